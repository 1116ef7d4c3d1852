"""GB 11643 ID numbers: validated, masked, keyed — and never stored in the clear."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ce_ledger.domain.identity import (
    InvalidIdNumber,
    check_digit,
    mask,
    normalise_id_number,
    professional_id,
)
from tests.builders import id_number, registration

# The standard's own example number (GB 11643-1999, appendix): check digit X.
STANDARD_EXAMPLE = "11010519491231002X"


def test_check_digit_matches_the_standard_example():
    assert check_digit(STANDARD_EXAMPLE[:17]) == "X"
    assert normalise_id_number(STANDARD_EXAMPLE.lower()) == STANDARD_EXAMPLE


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("110105194912310021", "check digit does not match"),
        ("11010519491331002X", "not a valid birth date"),
        ("1101051949123100", "must be 18 characters"),
        ("11010519491231002Y", "must be 18 characters"),
    ],
)
def test_bad_numbers_are_refused_with_the_rule_and_without_the_number(number, rule):
    with pytest.raises(InvalidIdNumber, match=rule) as e:
        normalise_id_number(number)
    assert number not in str(e.value)


def test_mask_keeps_region_and_last_four_only():
    assert mask(STANDARD_EXAMPLE) == "110105********002X"


def test_stream_id_is_keyed():
    assert professional_id(STANDARD_EXAMPLE, b"a" * 32) == professional_id(STANDARD_EXAMPLE, b"a" * 32)
    assert professional_id(STANDARD_EXAMPLE, b"a" * 32) != professional_id(STANDARD_EXAMPLE, b"b" * 32)


def test_registration_error_does_not_echo_the_number():
    from pydantic import ValidationError

    bad = "110105194912310021"
    with pytest.raises(ValidationError) as e:
        registration(bad)
    # pydantic keeps the input in .errors(); what we pass on (InvalidInput) must not.
    from ce_ledger.domain.errors import InvalidInput

    assert bad not in str(e.value)
    assert bad not in repr(InvalidInput.from_validation(e.value).problems)


def test_registering_twice_gives_the_same_record(ledger):
    number = id_number()
    first = ledger.register(registration(number), by="test")
    again = ledger.register(registration(number.lower(), name="马晓明"), by="test")
    assert first.created and not again.created
    assert first.professional_id == again.professional_id
    assert len(ledger.history(first.professional_id)) == 1


FULL_WIDTH = "１１０１０５１９４９１２３１００２ｘ"  # STANDARD_EXAMPLE as a Chinese input method may type it


def test_a_full_width_number_is_the_same_number_and_other_digits_are_refused():
    assert normalise_id_number(FULL_WIDTH) == STANDARD_EXAMPLE
    # Arabic-Indic digits passed the shape check (``\d``) and then failed making the stream id (500).
    with pytest.raises(InvalidIdNumber, match="must be 18 characters"):
        normalise_id_number("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X")
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_digit("１" * 17)


def test_full_width_numbers_in_text_are_found_and_kept_out_of_logs():
    from api.logs import redact
    from ce_ledger.domain.identity import holds_id_number

    assert holds_id_number(f"证书编号{FULL_WIDTH}号") and holds_id_number(f"编号 {STANDARD_EXAMPLE}")
    assert not holds_id_number(f"9{FULL_WIDTH}") and not holds_id_number(f"{STANDARD_EXAMPLE}A")
    assert not holds_id_number("１１０１０５１９４９１２３１００２１")  # the check digit is X
    assert redact(f"GET /v1/x/{FULL_WIDTH}?y=1") == "GET /v1/x/[ID number removed]?y=1"
    # An ASCII number touching a full-width digit or letter is still one (found in review: the
    # pattern of either width alone took them for one longer run).
    for touching in (f"１{STANDARD_EXAMPLE}", f"{STANDARD_EXAMPLE}１", f"{STANDARD_EXAMPLE}Ａ", f"课程{STANDARD_EXAMPLE}ｓ"):
        assert holds_id_number(touching), touching
        assert STANDARD_EXAMPLE not in redact(touching)
    from ce_ledger.domain.errors import InvalidInput
    from ce_ledger.domain.identity import refuse_id_numbers

    with pytest.raises(InvalidInput) as e:
        refuse_id_numbers({"course_code": "GX", "title": f"课程{STANDARD_EXAMPLE}ｓ"})
    assert e.value.field == "title"


def test_registering_in_full_width_gives_the_same_record(ledger):
    number = id_number()
    first = ledger.register(registration(number), by="test")
    again = ledger.register(registration(number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))),
                            by="test")
    assert not again.created and again.professional_id == first.professional_id


def test_the_clear_number_is_nowhere_in_the_store(ledger, settings):
    number = id_number()
    pid = ledger.register(registration(number), by="test").professional_id
    assert ledger.professional(pid).registration.masked_id == mask(number)
    if settings.is_sqlite:
        blob = Path(settings.sqlite_path).read_bytes()
        for sidecar in Path(settings.sqlite_path).parent.glob("*.sqlite-*"):
            blob += sidecar.read_bytes()
    else:
        from urllib.parse import parse_qs, urlparse

        url = urlparse(settings.database_url)
        schema = parse_qs(url.query)["schema"][0]
        blob = subprocess.run(
            ["pg_dump", "--schema", schema, settings.database_url.split("?")[0]],
            capture_output=True,
            check=True,
        ).stdout
    # pg_dump writes the bytea event state in hex: look for both spellings.
    assert number.encode() not in blob and number.encode().hex().encode() not in blob
    masked = mask(number).encode()
    assert masked in blob or masked.hex().encode() in blob  # the dump really holds the record


def test_embedded_mode_keeps_a_generated_key_beside_the_database(tmp_path):
    from ce_ledger.config import Settings, secret_key

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db' / 'ledger.sqlite'}")
    key = secret_key(settings)
    assert len(key) == 64 and secret_key(settings) == key
    key_file = tmp_path / "db" / "ledger.sqlite.key"
    assert key_file.exists() and key_file.stat().st_mode & 0o077 == 0


def _key_of(path: str) -> bytes:
    from ce_ledger.config import Settings, secret_key

    return secret_key(Settings(database_url=f"sqlite:///{path}"))


def test_processes_starting_together_on_a_new_store_share_one_whole_key(tmp_path):
    # Server workers start at the same moment; each must read the whole key the first wrote
    # (an empty or a second key would give a person two records).
    import multiprocessing

    paths = [str(tmp_path / f"race{attempt}" / "ledger.sqlite") for attempt in range(8)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        keys = pool.map(_key_of, [path for path in paths for _ in range(4)], chunksize=1)
    for i, path in enumerate(paths):
        mine = keys[4 * i : 4 * i + 4]
        assert len(set(mine)) == 1 and len(mine[0]) == 64
        assert sorted(p.name for p in (tmp_path / f"race{i}").iterdir()) == ["ledger.sqlite.key"]


def test_postgres_requires_a_configured_key():
    from ce_ledger.config import ConfigurationError, Settings, secret_key

    with pytest.raises(ConfigurationError, match="CE_LEDGER_SECRET_KEY"):
        secret_key(Settings(database_url="postgresql://u:p@localhost/db"))


def test_store_files_key_files_and_exports_are_the_owners_only(tmp_path):
    import os
    import stat

    from typer.testing import CliRunner

    from api.cli import app
    from ce_ledger.bootstrap import build_services
    from ce_ledger.config import Settings

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    build_services(Settings(database_url=url)).close()
    runner = CliRunner()
    export = tmp_path / "log.jsonl"
    assert runner.invoke(app, ["export", str(export)], env={"CE_LEDGER_DATABASE_URL": url}).exit_code == 0
    made = [p for p in tmp_path.iterdir() if p.is_file()]
    assert {"ledger.sqlite", "ledger.views.sqlite", "ledger.access.sqlite", "ledger.sqlite.key", "log.jsonl"} <= {
        p.name for p in made
    }
    for path in made:
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path.name
