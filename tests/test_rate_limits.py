"""Expensive requests are limited per token (issue: security hardening): past the limit a 429
problem with Retry-After, over the API and in the workbench; other tokens and cheap requests
are not held back."""

from __future__ import annotations

import pytest

from tests.test_workbench import csrf, signed_in


@pytest.fixture
def settings(sqlite_settings):
    # Small limits, so that a test reaches them (the service's are in config.py).
    return sqlite_settings.model_copy(update={"rate_forms": "2/minute", "rate_replays": "2/minute",
                                              "rate_lookups": "3/minute", "rate_verdicts": "3/minute"})


def test_past_its_limit_a_token_gets_429_with_retry_after(api):
    p = f"/v1/professionals/{api.pid}"
    for _ in range(3):
        assert api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).status_code == 201
    refused = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json" and "3 per 1 minute" in refused.json()["detail"]
    assert api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}, "auditor").status_code == 201
    assert api.get(f"{p}/totals?from_year=2015&to_year=2018").status_code == 200  # cheap reads are not limited
    form = f"{p}/assessment-form?evaluation_year=2019&level=intermediate"
    assert [api.get(form).status_code for _ in range(3)] == [200, 200, 429]


def test_lookups_by_id_number_in_the_workbench_are_limited(api):
    signed_in(api, "committee")
    token = csrf(api)
    answers = [api.client.post("/workbench/lookup", data={"id_number": api.number, "csrf": token},
                               follow_redirects=False).status_code for _ in range(4)]
    assert answers == [303, 303, 303, 429]
