"""Concurrent writers: two server processes (`--workers 2`) and many client threads on the same
professionals. No event lost, none twice, every clash retried by the ledger or reported, and an
invariant that spans events (24 hours taught a day) holds under the race."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID


from ce_ledger.bootstrap import build_ledger
from ce_ledger.domain.events import PublicCourseCompleted, TeachingRecorded
from tests.builders import id_number
from tests.serving import client, environment, serving, token

THREADS, PEOPLE = 12, 3


def test_two_server_processes_and_many_threads_lose_nothing_and_record_nothing_twice(settings, tmp_path):
    env = environment(settings)
    tokens = {r: token(settings, r, f"race-{r}") for r in ("platform", "committee")}
    with serving(env, tmp_path / "server.log", "--workers", "2") as server:
        platform = {"Authorization": f"Bearer {tokens['platform']}"}
        committee = {"Authorization": f"Bearer {tokens['committee']}"}
        numbers = [id_number() for _ in range(PEOPLE)]
        barrier = threading.Barrier(THREADS)

        def register(n: str) -> str:
            with client(server.base, timeout=60) as c:
                r = c.post("/v1/professionals", headers=platform, json={
                    "id_number": n, "name": "并发", "series": "工程技术", "requires_foreign_language_exam": False,
                    "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-1"})
                assert r.status_code in (200, 201), r.text
                return r.json()["professional_id"]

        with ThreadPoolExecutor(THREADS) as pool:  # everybody registers everybody at once: one record each
            pids = list(pool.map(register, numbers * (THREADS // PEOPLE)))
        assert len(set(pids)) == PEOPLE
        pid_of = dict(zip(numbers, pids[:PEOPLE], strict=True))

        def write(t: int) -> dict[str, Counter]:
            seen: dict[str, Counter] = {"completions": Counter(), "teaching": Counter(), "http": Counter(),
                                        "connection": Counter()}
            # Overlapping batches: each record id is sent by three threads.
            batch = [{"record_id": f"W-{(t // 3) * 60 + i}", "id_number": numbers[i % PEOPLE], "course_code": "GX",
                      "title": "公需课", "hours": "1", "completed_on": "2016-06-01"} for i in range(60)]
            barrier.wait()
            with client(server.base, timeout=60) as c:
                r = c.post("/v1/platform/completions", headers=platform, json={"completions": batch})
                seen["http"][r.status_code] += 1
                assert r.status_code == 200, r.text[:300]
                seen["connection"]["batch", r.headers.get("connection")] += 1
                for x in r.json()["results"]:
                    seen["completions"][x["status"]] += 1
                # The batch's answer closed the connection (its next batch goes to a free process);
                # the client opens a new one for the next request, which keeps its own.
                # Each thread teaches 3 h on the same day for the same person: only 8 fit in 24 h.
                r = c.post(f"/v1/professionals/{pids[0]}/teaching", headers=committee, json={
                    "taught_on": "2017-09-15", "hours_taught": "3", "course": "讲座", "document_ref": f"JS-{t}"})
                seen["http"][r.status_code] += 1
                seen["teaching"][r.status_code] += 1
                seen["connection"]["single", r.headers.get("connection")] += 1
            return seen

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(write, range(THREADS)))

    statuses = sum((o["completions"] for o in outcomes), Counter())
    teaching = sum((o["teaching"] for o in outcomes), Counter())
    http = sum((o["http"] for o in outcomes), Counter())
    assert not [s for s in http if s >= 500], http
    assert sum((o["connection"] for o in outcomes), Counter()) == Counter(
        {("batch", "close"): THREADS, ("single", None): THREADS})
    unique_ids = THREADS // 3 * 60
    assert statuses == Counter({"recorded": unique_ids, "duplicate": 2 * unique_ids})
    assert teaching == Counter({201: 8, 422: THREADS - 8})

    ledger = build_ledger(settings)
    try:
        recorded = Counter()
        taught = 0
        for pid in pid_of.values():
            for event in ledger.history(UUID(pid)):
                if isinstance(event, PublicCourseCompleted):
                    recorded[event.record_id] += 1
                elif isinstance(event, TeachingRecorded):
                    taught += 1
        assert len(recorded) == unique_ids and set(recorded.values()) == {1}
        assert taught == 8
    finally:
        ledger.close()
