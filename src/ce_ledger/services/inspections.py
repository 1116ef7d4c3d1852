"""The Department's inspection (§3(5)): draw a spot check, record findings, impose sanctions,
and read them back with each sampled verdict's risk signals.

The population is read from the read side (``projections.view``: issued verdicts and where
each person stood), handed in as a port, as of the position the view has reached; the
draw itself is ``audit.sampling`` (pure). Everything is recorded as events, with its actor.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol
from uuid import UUID, uuid4, uuid5

from ce_ledger.audit.sampling import ALGORITHM, WEIGHTED, allocate, draw, sample_size
from ce_ledger.audit.signals import Signal, risk_signals
from ce_ledger.domain.errors import InvalidInput, NotFound
from ce_ledger.domain.inspection import (
    INSPECTION_NAMESPACE, Finding, FindingRecorded, Population, Sanction, SanctionImposed, SanctionTarget,
    SpotCheckDrawn, SpotCheckFiled, SpotCheckRequest, Stratum, findings_stream, sanctions_stream,
)
from ce_ledger.domain.values import Channel, canonical_code
from ce_ledger.services.base import Events, Store, retrying

SPOT_CHECK_INDEX = uuid5(INSPECTION_NAMESPACE, "spot-checks")


class PopulationReader(Protocol):
    def reached(self) -> int: ...
    def population(self, population: Population, position: int) -> Any: ...  # a context: (strata, rows)
    def unit_known(self, code: str) -> bool: ...


class Inspections(Store):
    # -- spot checks ---------------------------------------------------------------------

    def draw_spot_check(
        self, request: SpotCheckRequest, reader: PopulationReader, *, by: str, channel: Channel = Channel.DIRECT
    ) -> SpotCheckDrawn:
        """Draw and record a spot check; the same request, seed and position always draw the same sample."""
        reached = reader.reached()
        position = request.as_of_position or reached
        if position > reached:
            raise InvalidInput("as_of_position", f"the ledger's read side has reached position {reached} only")
        if request.unit is not None and not reader.unit_known(request.unit):
            raise InvalidInput("unit", f"no unit {request.unit} is known to the ledger (no staff, no name)")
        population = request.population()
        seed = request.seed or secrets.token_hex(16)
        with reader.population(population, position) as (strata, rows):
            total = sum(strata.values())
            if total == 0:
                raise InvalidInput("evaluation_year", "no recorded verdict matches: the population is empty")
            allocation = allocate(strata, sample_size(total, request.size, request.rate))
            sample = draw(rows, allocation, seed, weighted=request.weighted)
        now, _ = self.now()
        stream = uuid4()
        drawn = SpotCheckDrawn.next_in_chain(
            stream, recorded_at=now, caused_by=by, channel=channel, population=population, size=request.size,
            rate=request.rate, seed=seed, position=position, algorithm=WEIGHTED if request.weighted else ALGORITHM, drawn_by=by, weighted=request.weighted,
            strata=tuple(Stratum(unit=u, series=s, population=strata[(u, s)], drawn=allocation[(u, s)])
                         for u, s in sorted(strata)),
            sample=tuple(v for _, v in sample),
        )
        for attempt in retrying():
            with attempt:
                filed = self.next_event(SpotCheckFiled, SPOT_CHECK_INDEX, recorded_at=now, caused_by=by,
                                        channel=channel, spot_check_id=stream,
                                        evaluation_year=population.evaluation_year, sample_size=len(sample))
                self.save(Events([drawn, filed]))
        return drawn

    def spot_check(self, spot_check_id: UUID) -> SpotCheckDrawn:
        found = self.first(spot_check_id)
        if not isinstance(found, SpotCheckDrawn):
            raise NotFound("spot_check_id", f"no spot check {spot_check_id} is recorded")
        return found

    def spot_checks(self, limit: int = 200) -> list[SpotCheckFiled]:
        """The latest spot checks, newest first."""
        return list(self.events.get(SPOT_CHECK_INDEX, desc=True, limit=limit))  # type: ignore[arg-type]

    # -- findings ---------------------------------------------------------------------------

    def record_finding(
        self, spot_check_id: UUID, finding: Finding, *, by: str, channel: Channel = Channel.DIRECT
    ) -> tuple[FindingRecorded, bool]:
        """An auditor's finding on a sampled verdict; the same finding again records nothing."""
        drawn = self.spot_check(spot_check_id)
        if finding.verdict_id not in drawn.sample:
            raise InvalidInput("verdict_id", f"verdict {finding.verdict_id} is not in spot check {spot_check_id}'s sample")
        stream = findings_stream(finding.verdict_id)
        for attempt in retrying():
            with attempt:
                for earlier in self.findings_of(finding.verdict_id):
                    if (earlier.spot_check_id, earlier.finding, earlier.reason, earlier.decision_ref) == (
                            spot_check_id, finding.finding, finding.reason, finding.decision_ref):
                        return earlier, False
                now, _ = self.now()
                recorded = self.next_event(
                    FindingRecorded, stream, recorded_at=now, caused_by=by, channel=channel, spot_check_id=spot_check_id,
                    verdict_id=finding.verdict_id, finding=finding.finding, reason=finding.reason,
                    decision_ref=finding.decision_ref, found_by=by,
                )
                self.save(Events([recorded]))
                return recorded, True
        raise AssertionError("unreachable")  # pragma: no cover

    def findings_of(self, verdict_id: UUID) -> list[FindingRecorded]:
        return list(self.events.get(findings_stream(verdict_id)))  # type: ignore[arg-type]

    # -- sanctions --------------------------------------------------------------------------

    def impose_sanction(
        self, sanction: Sanction, reader: PopulationReader, *, by: str, channel: Channel = Channel.DIRECT
    ) -> tuple[SanctionImposed, bool]:
        """A sanction against a person, a unit or a CE base; the same sanction again records nothing."""
        target = self._sanction_target(sanction, reader)
        stream = sanctions_stream(sanction.target_kind, target)
        for attempt in retrying():
            with attempt:
                for earlier in self.sanctions_of(sanction.target_kind, target):
                    if Sanction(**{k: getattr(earlier, k) for k in Sanction.model_fields}) == sanction.model_copy(
                            update={"target": target}):
                        return earlier, False
                now, _ = self.now()
                imposed = self.next_event(
                    SanctionImposed, stream, recorded_at=now, caused_by=by, channel=channel, imposed_by=by,
                    **{**sanction.model_dump(), "target": target},
                )
                self.save(Events([imposed]))
                return imposed, True
        raise AssertionError("unreachable")  # pragma: no cover

    def _sanction_target(self, sanction: Sanction, reader: PopulationReader) -> str:
        if sanction.target_kind is SanctionTarget.PROFESSIONAL:
            try:
                pid = UUID(sanction.target)
            except ValueError:
                raise InvalidInput("target", "a professional is named by their record's id") from None
            self.professional(pid, copy=False)  # type: ignore[attr-defined]  # NotFound names professional_id
            return str(pid)
        if sanction.target_kind is SanctionTarget.UNIT:
            if not reader.unit_known(sanction.target):
                raise InvalidInput("target", f"no unit {sanction.target} is known to the ledger")
            return canonical_code(sanction.target)
        try:
            self.provider(sanction.target, copy=False)  # type: ignore[attr-defined]
        except NotFound:
            raise InvalidInput("target", f"no CE base {sanction.target} is on record") from None
        return canonical_code(sanction.target)

    def sanctions_of(self, target_kind: SanctionTarget, target: str) -> list[SanctionImposed]:
        return list(self.events.get(sanctions_stream(target_kind, target)))  # type: ignore[arg-type]

    def sanctions_touching(self, professional_id: UUID) -> list[SanctionImposed]:
        """Those against the person, their unit now, and the CE bases of their certificates."""
        record = self.professional(professional_id, copy=False)  # type: ignore[attr-defined]
        found = self.sanctions_of(SanctionTarget.PROFESSIONAL, str(professional_id))
        found += self.sanctions_of(SanctionTarget.UNIT, record.employer_unit)
        bases = sorted({canonical_code(a.recorded.provider_code) for a in record.activities.values()
                        if hasattr(a.recorded, "provider_code")})
        for code in bases:
            found += self.sanctions_of(SanctionTarget.PROVIDER, code)
        return found

    # -- a sampled verdict -----------------------------------------------------------------

    def verdict_signals(self, verdict_id: UUID) -> list[Signal]:
        """The risk signals of a verdict (audit/signals.py), from the record it read and what is known now."""
        issued = self.verdict(verdict_id)  # type: ignore[attr-defined]
        pin = next(p for p in issued.pins if p.role == "record")
        record = self.professional(pin.stream_id, pin.version, copy=False)  # type: ignore[attr-defined]

        def provider(code: str) -> Any:
            try:
                return self.provider(code, copy=False)  # type: ignore[attr-defined]
            except NotFound:
                return None

        def claimants(key: str) -> int:
            return len({claim.professional_id for claim in self.key_claims(key)})  # type: ignore[attr-defined]

        return risk_signals(issued.verdict, record.activities.values(), issued.recorded_at, provider, claimants)


__all__ = ["Inspections", "PopulationReader"]
