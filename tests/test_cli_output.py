"""The command line in an 80-column terminal: tables wrap instead of cutting words to "…", every
command that prints a table also speaks JSON, and `evaluate` says it evaluated (nothing recorded)."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
from typer.testing import CliRunner

from api import cli


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CE_LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setattr(cli.console, "_width", 80)  # as a terminal 80 columns wide (or COLUMNS=80)
    return CliRunner()


def test_tables_wrap_at_80_columns_and_each_has_json(store):
    shown = store.invoke(cli.app, ["demo"])
    assert shown.exit_code == 0, shown.output
    assert "…" not in shown.output and "evaluation · not recorded" in shown.output
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    lines = store.invoke(cli.app, ["demo", "--json"]).stdout.splitlines()
    verdicts = [json.loads(line) for line in lines]
    assert len(verdicts) == 6 and all(v["rule_set"]["id"] == "NX-2019.2" for v in verdicts)
    staff = store.invoke(cli.app, ["staff", "640100-NXJT", "--level", "intermediate", "--json"])
    assert staff.exit_code == 0 and "马晓明" in {json.loads(line)["name"] for line in staff.stdout.splitlines()}
    table = store.invoke(cli.app, ["staff", "640100-NXJT", "--level", "intermediate"]).output
    assert "马晓明" in table and "…" not in table
    programmes = store.invoke(cli.app, ["report", "programmes", "--year", "2019", "--json"])
    assert programmes.exit_code == 0 and json.loads(programmes.stdout)["year"] == 2019
    rebuilt = store.invoke(cli.app, ["rebuild", "--json"])
    assert rebuilt.exit_code == 0 and json.loads(rebuilt.stdout)["identical"] is True


def test_spot_checks_on_the_command_line(store):
    from ce_ledger.bootstrap import build_services
    from ce_ledger.config import Settings
    from ce_ledger import demo

    with build_services(Settings()) as services:
        for item in demo.load(services.ledger):
            services.ledger.issue_verdict(item.professional_id, item.person.level, 2019, by="committee:c")
    drawn = store.invoke(cli.app, ["spot-check", "draw", "--year", "2019", "--rate", "0.5", "--seed", "seed-cli-0001"])
    assert drawn.exit_code == 0, drawn.output
    assert "seed-cli-0001" in drawn.output and "…" not in drawn.output
    assert max(len(line) for line in drawn.stdout.splitlines()) <= 80
    recorded = json.loads(store.invoke(cli.app, ["spot-check", "draw", "--year", "2019", "--size", "2", "--json"]).stdout)
    shown = store.invoke(cli.app, ["spot-check", "show", recorded["originator_id"], "--json"]).stdout.splitlines()
    assert len(shown) == len(recorded["sample"]) and all(json.loads(line)["finding"] is None for line in shown)
    refused = store.invoke(cli.app, ["spot-check", "draw", "--year", "2019", "--rate", "2"])
    assert refused.exit_code == 2 and "rate" in refused.output


def test_a_command_with_postgresql_out_of_reach_fails_at_once_saying_why(tmp_path):
    """Nothing listens on the port: the command stops within seconds with psycopg's own words for
    it, not after a pool's 30 s wait for connections that never come."""
    from tests import launcher

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"postgresql://u:p@127.0.0.1:{port}/ledger",
           "CE_LEDGER_SECRET_KEY": "k" * 40}
    started = time.monotonic()
    done = launcher.run(["tokens", "list"], env, timeout=60)
    assert done.returncode != 0 and time.monotonic() - started < 10
    assert "Connection refused" in done.stderr + done.stdout


def test_a_command_starts_its_pools_with_one_connection_and_the_server_with_the_setting(monkeypatch, tmp_path):
    """Each PostgreSQL connection opened costs both sides about 10 ms of CPU: a command (one thread)
    starts each pool with one, for that command only; `serve` keeps the configured size, and a size
    the operator set stays. Through the CLI's own dispatch, up to the point where each builds its stores."""
    from ce_ledger.config import Settings

    seen: list[int] = []

    class Built(Exception):
        pass

    def building(settings: Settings | None = None, **_: object):
        seen.append((settings or Settings()).postgres_pool_size)
        raise Built

    monkeypatch.setattr(cli, "build_services", building)  # what `demo` builds first
    monkeypatch.setattr(cli, "prepare_stores", building)  # what `serve` builds first
    monkeypatch.setenv("CE_LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.delenv("CE_LEDGER_POSTGRES_POOL_SIZE", raising=False)
    runner = CliRunner()
    for command in (["demo"], ["serve"]):
        assert isinstance(runner.invoke(cli.app, command).exception, Built)
        assert "CE_LEDGER_POSTGRES_POOL_SIZE" not in os.environ  # gone with the command
    monkeypatch.setenv("CE_LEDGER_POSTGRES_POOL_SIZE", "5")
    assert isinstance(runner.invoke(cli.app, ["demo"]).exception, Built)
    assert seen == [1, Settings.model_fields["postgres_pool_size"].default, 5]
    assert os.environ["CE_LEDGER_POSTGRES_POOL_SIZE"] == "5"
