"""What a completion costs on a shallow record and on one as deep as a real window, on PostgreSQL,
over HTTP and over the bulk path, against a COPY of rows shaped like the stored events.

1. Records: SHALLOW people registered only (depth 1), DEEP people loaded to depth 75 through
   the ledger's own batch command (a five-year window at about 15 activities a year).
2. HTTP: a real ``ce-ledger serve`` (uvicorn, one worker, loopback); platform batches of 500
   completions, each to a different person, first to shallow records, then to deep ones. Then
   "HTTP ×2": the server as deployed on this machine, one worker process per core
   (``--workers 2``), and the platform sending two batches at a time.
3. Bulk path: in process, through ``Records.record_batch(sole_writer=True)`` (what
   ``ce-ledger import`` and the region loader call: each process writes its own people, rows
   almost all new), on other shallow and deep people, in the importer's batches (2,000) shaped as a
   migration's file is (a person's rows together: the region's files, ``region.py --files``, hold each
   person's five years in a run), ``--per-person`` completions each (a migration brings ten times
   as many: the figure is a floor), the two depths alternated by halves. Then
   "bulk ×2": as ``ce-ledger import`` runs a large file on PostgreSQL here, one process per
   core, each recording its own share of the people (``imports.parallel``); its rows, the
   judged ones, four times as long as the others (32,000 completions, about 2 s). And "spread ×2":
   the same bulk path in two processes fed the platform's shape, each batch 500 different
   people (shown, not judged: it is how the platform sends, whose bar is the HTTP one).
4. COPY: the rows those completions stored (same columns, same payloads, same size), copied
   with psycopg into a table made ``LIKE`` the events table ``INCLUDING ALL`` (same indexes),
   before each path and after the last; a path is divided by the COPYs on either side of it.

Bars (the region-scale issue): depth 75 costs at most 1.5 x depth 1, on every path; HTTP
completions/s at least 0.05 of the COPY's rows/s (goal 0.1), the bulk path at least 0.1. The HTTP
bar is judged on "HTTP ×2", the server as it is deployed here (a worker per core) with the platform
sending two batches at once; one connection to one worker is shown beside it. The bulk bar is
judged on "bulk ×2", the import as it runs here, of a migration's file; one process is shown
beside it, and the platform's shape through the same path.

Usage: make bench-depth   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/bench_depth.py)
       --shallow N --deep N --depth N to change the sizes.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import date, timedelta

import orjson
import psycopg
from benchdb import SECRET, create_schema, drop_schema, id_numbers, issue_token, postgres_url, served, settings
from rich.console import Console
from rich.progress import track
from rich.table import Table

console = Console()
BATCH = 500  # a platform's batch (HTTP, and "spread ×2")
PATHS = ("HTTP", "HTTP ×2", "bulk", "bulk ×2", "spread ×2")
MIGRATION = ("bulk", "bulk ×2")  # fed as a migration's file is read: a person's rows together
TWO_PROCESSES = ("bulk ×2", "spread ×2")  # bulk paths run in two processes, as `ce-ledger import` does
BARS = {"HTTP ×2": 0.05, "bulk ×2": 0.1}  # completions/s over the COPY's rows/s; the other rows are shown
COPY_ROWS = 100_000  # enough that the COPY's rate is its own, not its start-up (about a second)


def completion(n: int, number: str, rng: random.Random) -> dict:
    return {"record_id": f"D-{n}", "id_number": number, "course_code": "GX-2016-07", "title": "公需课：专业技术人员职业道德",
            "hours": rng.choice(["1", "1.5", "2", "3"]),
            "completed_on": (date(2014, 1, 1) + timedelta(days=rng.randrange(1800))).isoformat()}


def batches(numbers: list[str], per_person: int, start: int, by_person: bool = False) -> list[list[dict]]:
    """``per_person`` completions for each number: in batches of BATCH, each batch spread over people
    (the platform's shape), or ``by_person`` each person's completions together (a migration's
    file) in batches of the importer's size (``importer.BATCH``), as ``ce-ledger import`` records them."""
    from ce_ledger.imports.importer import BATCH as IMPORT_BATCH

    rng = random.Random(start)
    order = ([(i, j) for j in range(len(numbers)) for i in range(per_person)] if by_person else
             [(i, j) for i in range(per_person) for j in range(len(numbers))])
    items = [completion(start + i * len(numbers) + j, numbers[j], rng) for i, j in order]
    size = IMPORT_BATCH if by_person else BATCH
    return [items[k:k + size] for k in range(0, len(items), size)]


def interleaved(numbers: list[str], per_person: int, start: int, clients: int, by_person: bool = False
                ) -> list[list[dict]]:
    """``batches`` for ``clients`` at once: batch k goes to client k % clients (``over_http``), and
    each client's batches are about its own share of the people."""
    shares = [batches(numbers[c::clients], per_person, start + c * 10**7, by_person) for c in range(clients)]
    return [b for round_ in zip(*shares) for b in round_]


def as_details(item: dict):
    from ce_ledger.domain.details import PublicCourse

    return PublicCourse(**{k: v for k, v in item.items() if k != "id_number"})


def bulk(ledger, pids: dict[str, object], work: list[list[dict]], label: str) -> float:
    """Seconds to record ``work`` through ``record_batch``, every item recorded."""
    started = time.perf_counter()
    for body in track(work, description=label, console=console, transient=True):
        done = ledger.record_batch([(pids[x["id_number"]], as_details(x)) for x in body], by="platform",
                                   sole_writer=True)
        assert all(getattr(r, "status", None) == "recorded" for r in done), done[:3]
    return time.perf_counter() - started


def _bulk_share(pg: str, schema: str, pids: dict, work: list[list[dict]], warm: list[list[dict]], ready) -> float:
    """One process of "bulk ×2": its own ledger, started, warmed up on other people (a first batch
    in a new process paid for imports, prepared statements and caches: a third of a row of two
    batches a process) and settled before the clock starts, as an import of a large file runs."""
    from ce_ledger import collector
    from ce_ledger.bootstrap import build_ledger

    try:
        ledger = build_ledger(settings(pg, schema))
        for body in warm:
            ledger.record_batch([(pids[x["id_number"]], as_details(x)) for x in body], by="platform",
                                sole_writer=True)
    except BaseException:
        ready.abort()  # the other process stops waiting, and the error reaches the bench
        raise
    collector.settle()
    ready.wait()
    started = time.perf_counter()
    for body in work:
        done = ledger.record_batch([(pids[x["id_number"]], as_details(x)) for x in body], by="platform",
                                   sole_writer=True)
        assert all(getattr(r, "status", None) == "recorded" for r in done), done[:3]
    ledger.close()
    return time.perf_counter() - started


def bulk_in_processes(pg: str, schema: str, pids: dict, work: list[list[dict]], warm: list[list[dict]],
                      processes: int) -> float:
    """Seconds for ``processes`` processes to record ``work`` (batch k to process k % processes),
    each started and warmed up (on ``warm``, batch k to process k % processes) beforehand: the
    slowest one's time."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(processes, mp_context=context) as pool:
        ready = manager.Barrier(processes)
        shares = [pool.submit(_bulk_share, pg, schema, pids, work[k::processes], warm[k::processes], ready)
                  for k in range(processes)]
        return max(s.result() for s in shares)


def over_http(url: str, token: str, work: list[list[dict]], label: str, clients: int = 1) -> float:
    """Seconds to send ``work`` from ``clients`` connections at once (each its share of the batches)."""
    from concurrent.futures import ThreadPoolExecutor
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    # The bodies are encoded before the clock starts, the answers read with orjson, and sent with
    # the standard library's client: the client shares the two cores with the server, and what its
    # platform spends making a request is not the ledger's cost (stdlib json made each body and
    # read each answer inside the timed loop; httpx took 15-20 core-µs a completion, http.client 5).
    bodies = [orjson.dumps({"completions": body}) for body in work]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    where = urlsplit(url)

    def send(share: list[bytes], shown: bool) -> None:
        connection = HTTPConnection(where.hostname, where.port, timeout=300)
        try:
            for body in track(share, description=label, console=console, transient=True) if shown else share:
                connection.request("POST", "/v1/platform/completions", body=body, headers=headers)
                r = connection.getresponse()
                answer = r.read()
                assert r.status == 200 and all(
                    x["status"] == "recorded" for x in orjson.loads(answer)["results"]), answer[:300]
                if r.getheader("connection") == "close":  # a batch's answer closes it (api/batches.py)
                    connection.close()  # http.client opens a new one for the next request
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, [bodies[k::clients] for k in range(clients)], [k == 0 for k in range(clients)]))
    return time.perf_counter() - started


def worker_seconds(server_pid: int) -> list[float]:
    """CPU seconds of each of the server's worker processes (its children), to show how a row's
    batches were shared between them."""
    try:
        with open(f"/proc/{server_pid}/task/{server_pid}/children") as f:
            children = f.read().split()
    except OSError:  # not Linux: the split is not shown
        return []
    seconds = []
    for child in children:
        with open(f"/proc/{child}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        seconds.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return seconds


def vacuum_store(pg: str, schema: str) -> None:
    """VACUUM ANALYZE the store once the deep records are loaded: the preload's 450,000 rows
    otherwise start autovacuum on the events table during the rows measured next (a vacuum of a
    table that size is seconds of CPU on a machine of two cores), on some runs and not others."""
    with psycopg.connect(pg, autocommit=True) as conn:
        for table in ("ledger_events", "ledger_events_index", "ledger_events_keys"):
            conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')


class Copies:
    """The raw limit: a COPY of rows shaped like stored completion events (their payloads, as
    stored, under fresh stream ids) into a new table like the events table, with its indexes,
    encoded beforehand (COPY's binary format, in one buffer) so that what is timed is the
    server's COPY and not Python formatting rows. Measured before each path and after the last,
    and each path divided by the mean of the COPYs just before and just after it: on this
    machine the same COPY ran at 96,000 to 212,000 rows/s from run to run, and three COPYs
    in a row at the end of one run at 192,566, 167,512 and 138,983, so a single COPY at the
    end measured another moment of the machine than the path it divided."""

    def __init__(self, pg: str, schema: str, rows: int):
        self.pg, self.schema, self.rows, self.rates = pg, schema, rows, []
        with psycopg.connect(pg) as conn:
            sample = conn.execute(f'SELECT originator_version, topic, state FROM "{schema}".ledger_events '
                                  "WHERE topic LIKE %s ORDER BY notification_id DESC LIMIT 5000",
                                  ("%PublicCourseCompleted%",)).fetchall()
        self.buffer = _binary_copy(sample, rows)

    def rate(self) -> float:
        """Rows/s of one COPY now (into a table of its own, dropped after)."""
        with psycopg.connect(self.pg) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            conn.execute("CREATE TABLE copy_target (LIKE ledger_events INCLUDING ALL)")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor().copy("COPY copy_target (originator_id, originator_version, topic, state) "
                                    "FROM STDIN (FORMAT BINARY)") as cp:
                for k in range(0, len(self.buffer), 1 << 20):
                    cp.write(self.buffer[k:k + (1 << 20)])
            conn.commit()
            rate = self.rows / (time.perf_counter() - started)
            conn.execute("DROP TABLE copy_target")
            conn.commit()
        self.rates.append(rate)
        return rate


def _binary_copy(sample: list[tuple], rows: int) -> bytes:
    """``rows`` rows in PostgreSQL's binary COPY format: sample payloads under fresh stream ids."""
    import struct

    parts = [b"PGCOPY\n\xff\r\n\x00", struct.pack("!ii", 0, 0)]
    for n in range(rows):
        version, topic, state = sample[n % len(sample)]
        t, st = topic.encode(), bytes(state)
        parts.append(struct.pack("!hi16siq", 4, 16, uuid.uuid4().bytes, 8, version))  # uuid, bigint
        parts.append(struct.pack("!i", len(t)) + t + struct.pack("!i", len(st)) + st)
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 8,000 completions a row: rows of 2,000 (a quarter of a second for each "×2" process) swung by
    # a third from run to run; with five paths and the judged row four times as long, about four minutes.
    parser.add_argument("--shallow", type=int, default=8000, help="shallow people per path (default 8000)")
    parser.add_argument("--deep", type=int, default=1000, help="deep people per path (default 1000)")
    parser.add_argument("--depth", type=int, default=75, help="activities already on a deep record (default 75)")
    parser.add_argument("--per-person", type=int, default=8, help="completions measured per deep person (default 8)")
    args = parser.parse_args()
    pg = postgres_url()
    if not pg:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make bench-depth does)[/red]")
        return 2
    from ce_ledger import collector
    from ce_ledger.bootstrap import build_ledger
    from ce_ledger.domain.commands import Registration

    schema = create_schema(pg)
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"{pg}?schema={schema}", "CE_LEDGER_SECRET_KEY": SECRET,
           "CE_LEDGER_VIEW_UPKEEP": "worker"}
    try:
        ledger = build_ledger(settings(pg, schema))
        paths = PATHS
        # Two clients send batches about different people, as a platform's concurrent batches are
        # (a person is in one of them): each client has its own share of the people, and each ×2 path
        # of the platform's shape twice the deep people at half the completions each, so that every
        # such batch is BATCH different people. A migration's rows come a person at a time: every
        # person of a bulk path gets ``--per-person`` completions, in one or two batches.
        clients = {p: 2 if "×2" in p else 1 for p in paths}
        per_person = {p: args.per_person if p in MIGRATION else args.per_person // clients[p] for p in paths}
        # The judged bulk row four times as long: at 16,000 a second a row of 8,000 lasted half a
        # second, eight batches a process.
        length = {p: 4 if p == "bulk ×2" else 1 for p in paths}
        n_deep_people = {p: length[p] * args.deep * args.per_person // per_person[p] for p in paths}
        # And a batch for each bulk ×2 process to warm up on, at each depth, about other people.
        n_warm = 2 * len(TWO_PROCESSES) * clients["bulk ×2"] * BATCH
        numbers = id_numbers(len(paths) * args.shallow + sum(n_deep_people.values()) + n_warm)
        pids = {}
        for at in track(range(0, len(numbers), BATCH), description=f"registering {len(numbers)} people",
                        console=console, transient=True):
            chunk = numbers[at:at + BATCH]
            opened = ledger.register_batch([Registration(
                id_number=number, name="专技", series="工程技术", requires_foreign_language_exam=False,
                requires_computer_exam=False, own_ce_regulation=False, employer_unit="U-1") for number in chunk],
                by="platform")
            pids.update((number, done.professional_id) for number, done in zip(chunk, opened, strict=True))
        shallow = {p: numbers[k * args.shallow:(k + 1) * args.shallow] for k, p in enumerate(paths)}
        deep, at = {}, len(paths) * args.shallow
        for p in paths:
            deep[p], at = numbers[at:at + n_deep_people[p]], at + n_deep_people[p]
        warm_people = numbers[at:at + n_warm]
        everyone_deep = [n for p in paths for n in deep[p]]
        preload = batches(everyone_deep, args.depth, 10**8)
        preload_s = bulk(ledger, pids, preload, f"loading {len(everyone_deep)} records to depth {args.depth}")
        console.print(f"preload: {len(everyone_deep) * args.depth:,} activities in {preload_s:.0f} s")
        vacuum_store(pg, schema)
        n_deep = args.deep * args.per_person
        work = {}
        for k, p in enumerate(paths):
            if p in MIGRATION:  # a migration's file: a person's rows together
                work[p, 1] = interleaved(shallow[p][:n_deep_people[p]], per_person[p], (2 + 2 * k) * 10**8,
                                         clients[p], by_person=True)
                work[p, args.depth] = interleaved(deep[p], per_person[p], (3 + 2 * k) * 10**8, clients[p],
                                                  by_person=True)
                continue
            # At least one batch, so that a run with a small --deep still has a shallow row.
            work[p, 1] = interleaved(shallow[p], 1, (2 + 2 * k) * 10**8, clients[p])[: max(1, n_deep // BATCH)]
            work[p, args.depth] = interleaved(deep[p], per_person[p], (3 + 2 * k) * 10**8, clients[p])
        seconds, limit = {}, {}
        token = issue_token(env, "platform")
        copies = Copies(pg, schema, COPY_ROWS)

        def beside(path: str, before: float) -> float:
            """The COPY after ``path``: the path's limit is the mean of it and the one before."""
            after = copies.rate()
            limit[path] = (before + after) / 2
            return after

        before = copies.rate()
        for k, (path, server_args) in enumerate((("HTTP", ()), ("HTTP ×2", ("--workers", "2")))):
            with served(env, *server_args) as server:
                n = clients[path]  # two batches a client first, so that each worker has served some
                over_http(server.url, token, batches(shallow[path][:2 * BATCH * n], 1, (9 + k) * 10**9),
                          "warming up", n)
                for depth in (1, args.depth):
                    before_cpu = worker_seconds(server.pid)
                    seconds[path, depth] = over_http(server.url, token, work[path, depth], f"{path}, depth {depth}", n)
                    used = [b - a for a, b in zip(before_cpu, worker_seconds(server.pid))]
                    used = [u for u in used if u > 0.01 * sum(used)]  # not multiprocessing's tracker
                    if len(used) > 1:  # a batch's answer closes its connection: both busy
                        console.print(f"{path}, depth {depth}: the workers' shares of the CPU "
                                      + " / ".join(f"{100 * u / sum(used):.0f} %" for u in used))
            before = beside(path, before)
        collector.settle()  # as `ce-ledger import` does before its batches (the server did at start)
        # The two depths alternated by halves (1, 75, 1, 75): PostgreSQL checkpoints about every
        # half-minute here (max_wal_size as installed), and the burst of full-page writes after one
        # starts fell on one row of about a second and not the other (one run: 1.51).
        for half in (0, 1):
            for key in (("bulk", 1), ("bulk", args.depth)):
                share = work[key][: len(work[key]) // 2] if half == 0 else work[key][len(work[key]) // 2:]
                seconds[key] = seconds.get(key, 0.0) + bulk(ledger, pids, share, f"bulk, depth {key[1]}")
        ledger.close()
        before = beside("bulk", before)
        per_warm = n_warm // (2 * len(TWO_PROCESSES))
        for m, path in enumerate(TWO_PROCESSES):
            for k, depth in enumerate((1, args.depth)):
                console.print(f"{path}, depth {depth} …")
                at = (2 * m + k) * per_warm
                warm = batches(warm_people[at:at + per_warm], 1, (11 + 2 * m + k) * 10**9)
                seconds[path, depth] = bulk_in_processes(pg, schema, pids, work[path, depth], warm, 2)
            before = beside(path, before)
        console.print("COPY rows/s, before each path and after the last: "
                      + ", ".join(f"{c:,.0f}" for c in copies.rates))
    finally:
        drop_schema(pg, schema)
    return report(work, seconds, limit, args.depth)


def report(work: dict, seconds: dict, limit: dict[str, float], depth: int) -> int:
    n_row, n_judged = (sum(len(b) for b in work[p, depth]) for p in ("bulk", "bulk ×2"))
    table = Table(title=f"bench_depth (PostgreSQL; {n_row:,} completions a row, bulk ×2 {n_judged:,})",
                  caption="HTTP, spread ×2: each batch 500 people, as the platform sends\n"
                          "bulk: each person's rows together, as in a migration's file")
    for col in ("path", "depth", "ms each", "per s", "COPY rows/s", "÷ COPY", "deep ÷ shallow"):
        table.add_column(col, justify="left" if col == "path" else "right")
    ok = True
    for path in PATHS:
        copy = limit[path]
        for d in (1, depth):
            rate = sum(len(b) for b in work[path, d]) / seconds[path, d]
            ratio = (seconds[path, depth] / sum(len(b) for b in work[path, depth])) / (
                seconds[path, 1] / sum(len(b) for b in work[path, 1]))
            table.add_row(path, str(d), f"{1000 / rate:.3f}", f"{rate:,.0f}", f"{copy:,.0f}" if d == 1 else "",
                          f"{rate / copy:.3f}", f"{ratio:.2f}" if d == depth else "")
            if d == depth:
                ok &= ratio <= 1.5 and rate / copy >= BARS.get(path, 0)
    console.print(table)
    console.print(f"bars: deep ≤ 1.5 × shallow; HTTP ≥ 0.05 × COPY as deployed (HTTP ×2: a worker per core, "
                  f"two batches at a time), bulk ≥ 0.1 × COPY as run (bulk ×2: a process per core) → "
                  f"{'[green]meets[/green]' if ok else '[red]misses[/red]'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
