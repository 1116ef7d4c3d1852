"""Schema fuzzing: schemathesis generates requests from the app's own OpenAPI document and sends
them to a real server with a token of a role that may call each operation. No 5xx, every response
as documented (status, content type, schema), invalid data refused, and a refused request records
nothing. Bounded (a few examples per operation, derandomised) so it runs on every CI run."""

from __future__ import annotations

from contextlib import ExitStack, closing

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from tests.conftest import BACKENDS, postgres_schema
from tests.serving import environment, serving, token

EXAMPLES = 3  # per operation and mode: about 300 requests (the suite's time is bounded)
SECRET = "fuzz-secret-key-0123456789abcdef0123"


# The HTTP contract is the store's neither: fuzzed on SQLite only (each behaviour that touches
# storage is tested on both stores in its own module).
@pytest.fixture(scope="module", params=[b for b in BACKENDS if b == "sqlite"] or BACKENDS)
def fuzzed(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as stack:
        url = (f"sqlite:///{folder / 'ledger.sqlite'}" if request.param == "sqlite"
               else stack.enter_context(postgres_schema("f")))
        settings = Settings(database_url=url, secret_key=SECRET)
        env = environment(settings)
        tokens = {role: token(settings, role, f"fuzz-{role}")
                  for role in ("platform", "committee", "auditor")}
        ledger = stack.enter_context(closing(build_ledger(settings)))
        server = stack.enter_context(serving(env, folder / "server.log"))
        yield server.base, tokens, ledger.position


def role_for(method: str, path: str) -> str:
    """A role allowed to call the operation, so that requests reach validation and the ledger."""
    if method == "POST" and path in ("/v1/professionals", "/v1/platform/completions"):
        return "platform"
    if method == "POST" and path.startswith("/v1/professionals/") and not path.endswith("/void"):
        return "committee"
    return "auditor"


def fuzz(operation, mode: GenerationMode, base: str, headers: dict, position) -> None:
    """Run one operation's generated requests; raises the first failure schemathesis finds."""
    # Valid by the schema is not always valid by the rules (an unknown professional, a date in
    # the future): the schema cannot say everything, so refusing those is right. And a batch of
    # completions answers 200 with each bad item refused on its own (the contract: one
    # bad item never blocks the others), so a bad item is not a rejected request.
    excluded = [positive_data_acceptance]
    if operation.path == "/v1/platform/completions":
        excluded.append(negative_data_rejection)

    @given(case=operation.as_strategy(mode))
    @hsettings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
               suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        before = position()
        response = case.call_and_validate(base_url=base, headers=headers, timeout=30, excluded_checks=excluded)
        if response.status_code >= 400:
            assert position() == before, f"answered {response.status_code} but recorded"

    check()


def test_every_operation_answers_as_documented(fuzzed):
    base, tokens, position = fuzzed
    api = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    for operation in operations:
        headers = {"Authorization": f"Bearer {tokens[role_for(operation.method.upper(), operation.path)]}"}
        for mode in GenerationMode:
            try:
                fuzz(operation, mode, base, headers, position)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong in a request without inputs
            except Exception as e:  # noqa: BLE001 - collected: every operation is fuzzed, then all are reported
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {str(e)[:600]}")
    assert len(operations) >= 27
    assert failures == [], "\n\n".join(failures)
