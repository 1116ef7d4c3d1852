#!/usr/bin/env python3
"""Draw a recorded spot check again from an exported log, with nothing but the standard library.

    ce-ledger export ledger.jsonl            # the whole log, as stored (plain JSON states)
    python3 docs/redraw_spot_check.py ledger.jsonl <spot check id>

It reads the spot check's parameters, seed and log position from its SpotCheckDrawn event,
rebuilds the population from the log itself (docs/inspection.md, "The draw"), draws, and
compares with the sample the ledger recorded. Exit status 0: the same sample.
It does not import ce-ledger: an auditor's own few lines can do the same.
"""

import hashlib
import hmac
import json
import math
import sys
import unicodedata
from decimal import Decimal
from functools import cmp_to_key
from fractions import Fraction


def canonical_code(text):
    return unicodedata.normalize("NFKC", text).strip().casefold().upper()


def weight(v):
    """1, plus one for each signal the verdict shows by itself: just over the total or the public
    hours (at most 5% over what is required), a waiving degree."""
    w = 1 + (1 if v["waived_by_degree"] else 0)
    if v["passed"] and not v["waived_by_degree"] and v.get("window") is not None:
        for what in ("total_hours", "public_hours"):
            need, got = Decimal(v["required"][what]), Decimal(v["credited"][what])
            if need > 0 and got - need <= need * Decimal("0.05"):
                w += 1
    return w


def kind(topic):
    return topic.rsplit(":", 1)[-1]


def rows(path):
    with open(path, encoding="utf-8") as f:
        next(f)  # the header line
        for line in f:
            row = json.loads(line)
            if row["app"] == "ledger":
                if "state" not in row:
                    sys.exit("this log is encrypted at rest: export it from a store without encryption")
                yield row


def main(path, spot_check_id):
    drawn = next((json.loads(r["state"]) for r in rows(path)
                  if kind(r["topic"]) == "SpotCheckDrawn" and r["originator_id"] == spot_check_id), None)
    if drawn is None:
        sys.exit(f"no spot check {spot_check_id} in {path}")
    want, position, seed = drawn["population"], drawn["position"], drawn["seed"]

    # 1-2. The population as of the position: each person's last verdict per (level, year), in the
    # stratum (unit, series) where the person stood at the verdict's own place in the log.
    place, in_force = {}, {}
    for r in rows(path):
        if r["id"] > position:
            break
        state, k = json.loads(r["state"]), kind(r["topic"])
        if k == "ProfessionalRegistered":
            place[r["originator_id"]] = (canonical_code(state["employer_unit"]), state["series"]["name"])
        elif k == "RegistrationCorrected":
            place[r["originator_id"]] = (place[r["originator_id"]][0], state["series"]["name"])
        elif k == "TransferConfirmed":
            place[r["originator_id"]] = (canonical_code(state["to_unit"]), place[r["originator_id"]][1])
        elif k == "VerdictIssued":
            v = state["verdict"]
            key = (state["professional_id"], v["level"], v["evaluation_year"])
            in_force[key] = (r["originator_id"], place[state["professional_id"]], v, state["issued_by"])
    weights = {vid: weight(v) for vid, _, v, _ in in_force.values()}
    population = [
        (vid, stratum) for vid, stratum, v, issued_by in in_force.values()
        if v["evaluation_year"] == want["evaluation_year"]
        and want.get("level") in (None, v["level"])
        and want.get("committee") in (None, issued_by)
        and (want.get("unit") is None or canonical_code(want["unit"]) == stratum[0])
        and want.get("series") in (None, stratum[1])
    ]
    strata = {}
    for _, stratum in population:
        strata[stratum] = strata.get(stratum, 0) + 1

    # 3. The size.
    total = len(population)
    n = min(total, drawn["size"]) if drawn["size"] is not None else min(total, math.ceil(total * Decimal(drawn["rate"])))

    # 4. Proportional allocation, at least one per stratum, largest remainder.
    order = sorted(strata)
    quota = {h: Fraction(n * strata[h], total) for h in order}
    take = {h: min(strata[h], max(1, math.floor(quota[h]))) for h in order}
    by_remainder = sorted(order, key=lambda h: (-(quota[h] - math.floor(quota[h])), order.index(h)))
    while sum(take.values()) < n:
        for h in by_remainder:
            if sum(take.values()) < n and take[h] < strata[h]:
                take[h] += 1

    # 5. Within a stratum, the smallest HMAC-SHA256(seed, verdict id).
    def score(vid):
        return hmac.new(seed.encode("utf-8"), vid.lower().encode("ascii"), hashlib.sha256).hexdigest()

    # 6. Weighted: the largest u^(1/w), u = (2^256 - score)/2^256, compared exactly in integers.
    def by_key(a, b):
        (ma, wa, va), (mb, wb, vb) = a, b
        left, right = ma ** wb << (256 * wa), mb ** wa << (256 * wb)
        return (left > right) - (left < right) or (va < vb) - (va > vb)

    sample = []
    for h in order:
        if drawn.get("weighted"):
            keys = [(2**256 - int(score(vid), 16), weights[vid], vid) for vid, stratum in population if stratum == h]
            sample += [vid for _, _, vid in sorted(keys, key=cmp_to_key(by_key), reverse=True)[: take[h]]]
        else:
            members = sorted((score(vid), vid) for vid, stratum in population if stratum == h)
            sample += [vid for _, vid in members[: take[h]]]

    recorded = drawn["sample"]
    print(f"population {total} in {len(strata)} strata as of position {position}; sample {len(sample)}")
    print("the same sample as recorded" if sample == recorded else "DIFFERENT from the recorded sample")
    return 0 if sample == recorded else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
