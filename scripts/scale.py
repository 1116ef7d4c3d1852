"""The region-scale run: generate, load, project, rebuild, verify, checkpoint and prove a region's
history at one or more sizes on PostgreSQL, with the time and the peak memory of each step.

    make scale                                   # 3,360, 10,000 and 33,600 people (a tenth of the region)
    .venv/bin/python scripts/scale.py --people 2000 --people 5000

Each size gets a schema of its own. The steps run as the commands a deployment runs (``ce-ledger
project --once``, ``rebuild``, ``verify``, ``checkpoint``, ``serve``), each in its own process tree,
whose resident memory (every process of the tree, summed) is sampled every 0.1 s:

1. load: ``scripts/region.py`` (five years, about 14 activities a person-year, decisions, voids);
2. project: the read side built by the projection worker from the log (``project --once``);
3. rebuild: a new view version built beside the serving one, then switched to (``rebuild``);
4. verify: every chain, pin and checkpoint (none yet);
5. checkpoint: the first, over the whole log;
6. append: 10,000 more completions (the platform's batches), then a second checkpoint — what it
   costs is what was appended;
7. verify again, with two checkpoints;
8. serve: a real server; inclusion proofs, totals and verdicts, each timed from the client,
   and the server's memory.

``--steps`` runs some of them (the whole region: ``--people 336000 --steps load,verify,checkpoint,prove``,
where ``prove`` times proofs and verdicts for a sample of records in one process, with no server:
``scripts/scale_prove.py``).

Figures go to the console and, with ``--out``, to a JSON file; docs/scale.md holds a run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
from benchdb import CLI, SECRET, create_schema, drop_schema, issue_token, postgres_url, served
from rich.console import Console
from rich.table import Table

console = Console()
ROOT = Path(__file__).resolve().parent.parent


# -- memory of a process tree ----------------------------------------------------------------

def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


class Peak:
    """Samples a process tree's memory every 0.1 s until stopped; ``mib`` is the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(self.pid))
            self._stop.wait(0.1)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def measured(cmd: list[str], env: dict[str, str], label: str) -> tuple[float, float, str]:
    """Run ``cmd``; seconds, peak MiB of its process tree, and its output."""
    console.print(f"[dim]{label}…[/dim]")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    peak = Peak(proc.pid)
    out, _ = proc.communicate()
    mib = peak.stop()
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # verify exits 1 on breaks: reported, not fatal
        raise SystemExit(f"{label} failed ({proc.returncode}):\n{out[-3000:]}")
    return seconds, mib, out


# -- the run -----------------------------------------------------------------------------------

def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def timed_requests(client: httpx.Client, calls: list[tuple[str, str, dict | None]]) -> list[float]:
    out = []
    for method, path, body in calls:
        started = time.perf_counter()
        r = client.request(method, path, json=body)
        out.append((time.perf_counter() - started) * 1000)
        assert r.status_code < 300, (path, r.status_code, r.text[:300])
    return out


STEPS = ("load", "project", "rebuild", "verify", "checkpoint", "append", "serve", "prove")
DEFAULT_STEPS = STEPS[:-1]


def run_size(pg: str, people: int, seed: int, keep: bool, wanted: tuple[str, ...] = DEFAULT_STEPS) -> dict:
    schema = create_schema(pg)
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"{pg}?schema={schema}", "CE_LEDGER_SECRET_KEY": SECRET,
           "CE_LEDGER_VIEW_UPKEEP": "worker", "PYTHONUNBUFFERED": "1",
           # One client asks for hundreds of proofs and verdicts here: not what the limits are for.
           "CE_LEDGER_RATE_VERDICTS": "100000/minute", "CE_LEDGER_RATE_PROOFS": "100000/minute"}
    py = [sys.executable]
    steps: dict[str, dict] = {}
    try:
        s, mib, out = measured([*py, "scripts/region.py", "--people", str(people), "--seed", str(seed)], env, "load")
        with psycopg.connect(pg) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            rows = conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0]
            activities = conn.execute("SELECT count(*) FROM ledger_events WHERE topic ~ "
                                      "'(Completed|Claimed|Recorded|Taught|Passed|Obtained)$' "
                                      "AND topic NOT LIKE '%%Verdict%%'").fetchone()[0]
            size = conn.execute("SELECT pg_total_relation_size('ledger_events') + "
                                "pg_total_relation_size('ledger_events_index')").fetchone()[0]
            sample = [r[0] for r in conn.execute(
                "SELECT originator_id FROM ledger_events WHERE topic LIKE '%%ProfessionalRegistered' "
                "ORDER BY md5(originator_id::text) LIMIT 200").fetchall()]
        years = [line for line in out.splitlines() if line[:4].isdigit()]
        steps["load"] = {"seconds": s, "mib": mib, "per": s / activities * 1000, "unit": "ms/activity",
                         "years": years}
        for name, cmd in (("project", ["project", "--once"]), ("rebuild", ["rebuild"]), ("verify", ["verify"]),
                          ("checkpoint", ["checkpoint"])):
            if name not in wanted:
                continue
            s, mib, out = measured([*CLI, *cmd], env, name)
            steps[name] = {"seconds": s, "mib": mib, "per": s / rows * 1e6, "unit": "µs/row"}
            if name == "verify":
                steps[name]["intact"] = "intact" in out
        if "prove" in wanted:  # no server: proofs and verdicts timed in one process (scale_prove.py)
            s, mib, out = measured([*py, "scripts/scale_prove.py", *map(str, sample[:100])], env, "prove")
            timed = json.loads(out.strip().splitlines()[-1])
            steps["prove"] = {"seconds": s, "mib": mib, "per": quantile(timed["proof"][1:], 99), "unit": "ms p99/proof",
                              "proof_ms": (quantile(timed["proof"][1:], 50), quantile(timed["proof"][1:], 99)),
                              "verdict_ms": (quantile(timed["verdict"][1:], 50), quantile(timed["verdict"][1:], 99))}
        if "append" not in wanted:
            return {"people": people, "activities": activities, "rows": rows, "bytes": size, "steps": steps}
        # Append 10,000 completions, then a second checkpoint: it costs the rows appended.
        s, mib, out = measured([*py, "scripts/scale_append.py", str(people), "10000"], env, "append")
        appended = int(out.strip().splitlines()[-1])
        s, mib, out = measured([*CLI, "checkpoint"], env, "checkpoint 2")
        steps["checkpoint 2"] = {"seconds": s, "mib": mib, "per": s / appended * 1e6, "unit": "µs/new row"}
        s, mib, out = measured([*CLI, "verify"], env, "verify 2")
        steps["verify 2"] = {"seconds": s, "mib": mib, "per": s / (rows + appended) * 1e6, "unit": "µs/row",
                             "intact": "intact" in out}
        subprocess.run([*CLI, "project", "--once"], env=env, check=True, capture_output=True)
        auditor, committee = issue_token(env, "auditor"), issue_token(env, "committee")
        console.print("[dim]serve…[/dim]")
        with served(env) as server:
            peak = Peak(server.pid)
            with httpx.Client(base_url=server.url, timeout=120) as c:
                c.headers["Authorization"] = f"Bearer {auditor}"
                proofs = timed_requests(c, [("GET", f"/v1/ledger/proofs/{pid}", None) for pid in sample[:100]])
                totals = timed_requests(c, [("GET", f"/v1/professionals/{p}/totals?from_year=2014&to_year=2018", None)
                                            for p in sample * 2])
                c.headers["Authorization"] = f"Bearer {committee}"
                verdicts = timed_requests(c, [("POST", f"/v1/professionals/{p}/verdicts",
                                               {"level": "intermediate", "evaluation_year": 2019}) for p in sample[:100]])
            server_mib = peak.stop()
        # Each kind's first request after start is reported apart (it meets cold caches and plans):
        # with 100 samples, one slow first request would be the p99 by itself.
        steps["serve"] = {"mib": server_mib, "proof_ms": (quantile(proofs[1:], 50), quantile(proofs[1:], 99)),
                          "totals_ms": (quantile(totals[1:], 50), quantile(totals[1:], 99)),
                          "verdict_ms": (quantile(verdicts[1:], 50), quantile(verdicts[1:], 99)),
                          "first_ms": {"proof": proofs[0], "totals": totals[0], "verdict": verdicts[0]},
                          "samples_ms": {"proof": proofs, "totals": totals, "verdict": verdicts}}
        return {"people": people, "activities": activities, "rows": rows, "bytes": size, "steps": steps}
    finally:
        if not keep:
            drop_schema(pg, schema)
        else:
            console.print(f"kept schema {schema}")


def report(results: list[dict]) -> None:
    for r in results:
        table = Table(title=f"{r['people']:,} people: {r['activities']:,} activities, {r['rows']:,} rows, "
                            f"{r['bytes'] / 2**30:.2f} GiB")
        for col in ("step", "seconds", "per unit", "peak MiB"):
            table.add_column(col, justify="left" if col == "step" else "right")
        for name, s in r["steps"].items():
            if name == "serve":
                continue
            flag = "" if s.get("intact", True) else " (breaks!)"
            table.add_row(name + flag, f"{s['seconds']:.1f}", f"{s['per']:.3f} {s['unit']}", f"{s['mib']:.0f}")
        sv = r["steps"].get("serve")
        if "prove" in r["steps"]:
            pr = r["steps"]["prove"]
            table.add_row("prove: proof p50/p99 (in process)", "", "{:.1f} / {:.1f} ms".format(*pr["proof_ms"]), "")
            table.add_row("prove: verdict p50/p99 (evaluated)", "", "{:.1f} / {:.1f} ms".format(*pr["verdict_ms"]), "")
        if sv is None:
            console.print(table)
            for line in r["steps"]["load"]["years"]:
                console.print(f"  {line}")
            continue
        table.add_row("serve: proof p50/p99", "", "{:.1f} / {:.1f} ms".format(*sv["proof_ms"]), f"{sv['mib']:.0f}")
        table.add_row("serve: totals p50/p99", "", "{:.1f} / {:.1f} ms".format(*sv["totals_ms"]), "")
        table.add_row("serve: verdict p50/p99", "", "{:.1f} / {:.1f} ms".format(*sv["verdict_ms"]), "")
        first = sv["first_ms"]
        table.add_row("serve: first proof/totals/verdict", "",
                      f"{first['proof']:.0f} / {first['totals']:.0f} / {first['verdict']:.0f} ms", "")
        console.print(table)
        for line in r["steps"]["load"]["years"]:
            console.print(f"  {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, action="append", help="a size (repeatable; default 3360, 10000, 33600)")
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep each size's schema")
    parser.add_argument("--steps", default=",".join(DEFAULT_STEPS),
                        help=f"which steps, comma-separated, of {', '.join(STEPS)} (default: all but prove; load always)")
    args = parser.parse_args()
    wanted = tuple(args.steps.split(","))
    if unknown := set(wanted) - set(STEPS):
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    pg = postgres_url()
    if not pg:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make scale does)[/red]")
        return 2
    results = []
    for people in args.people or [3360, 10_000, 33_600]:
        results.append(run_size(pg, people, args.seed, args.keep, wanted))
        report(results[-1:])
        if args.out:
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    random.seed(0)
    sys.exit(main())
