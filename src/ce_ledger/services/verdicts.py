"""Verdicts: evaluate a record, issue (record) a verdict pinned to what it read, read them back."""

from __future__ import annotations

from uuid import UUID, uuid4

from ce_ledger.domain.errors import BrokenHistory, InvalidInput, LedgerError, NotFound
from ce_ledger.domain.values import Channel, Level
from ce_ledger.domain.verdicts import Pin, VerdictFiled, VerdictIssued, verdict_index
from ce_ledger.rules.ruleset import RuleSet
from ce_ledger.rules.verdict import Verdict
from ce_ledger.services.base import Events, Store, retrying


class Verdicts(Store):
    def rule_set_for(self, evaluation_year: int, rule_set: str | None = None) -> RuleSet:
        return self.rule_sets.get(rule_set) if rule_set else self.rule_sets.in_force(evaluation_year)

    def superseded_by(self, rule_set_id: str, evaluation_year: int) -> str | None:
        """The rule-set in force for the year, if a verdict's own is no longer it (reading 17)."""
        try:
            in_force = self.rule_sets.in_force(evaluation_year).id
        except LedgerError:
            return None
        return None if in_force == rule_set_id else in_force

    def _issuing_rule_set(self, evaluation_year: int, rule_set: str | None) -> RuleSet:
        """New verdicts only under the rule-set in force (reading 17): a committee may not shop
        for an older one. The older ones stay published, for replays of verdicts issued under them."""
        in_force = self.rule_sets.in_force(evaluation_year)
        if rule_set is not None and rule_set != in_force.id:
            self.rule_sets.get(rule_set)  # an unknown id is named as such
            raise InvalidInput(
                "rule_set",
                f"a new verdict for {evaluation_year} is issued under the rule-set in force, {in_force.id}; "
                f"{rule_set} serves only replays of verdicts issued under it (reading 17)",
            )
        return in_force

    def evaluate(
        self,
        professional_id: UUID,
        level: Level,
        evaluation_year: int,
        *,
        rule_set: str | None = None,
        version: int | None = None,
    ) -> Verdict:
        """A verdict on the record as known at ``version`` (default: now); records nothing."""
        rules = self.rule_set_for(evaluation_year, rule_set)
        record = self.professional(professional_id, version, copy=False)  # type: ignore[attr-defined]
        return rules.evaluate(record, level, evaluation_year, self.providers_of(record))  # type: ignore[attr-defined]

    def issue_verdict(
        self, professional_id: UUID, level: Level, evaluation_year: int, *, by: str, rule_set: str | None = None,
        channel: Channel = Channel.DIRECT,
    ) -> VerdictIssued:
        """Evaluate the record as it is now and record the verdict, pinned to what it read.

        The verdict and its entry on the person's verdict index are saved together; two
        committees issuing at once race only for the index's next version, and retry.
        """
        rules = self._issuing_rule_set(evaluation_year, rule_set)
        record = self.professional(professional_id, copy=False)  # type: ignore[attr-defined]
        providers = self.providers_of(record)  # type: ignore[attr-defined]
        breaks = self.chain_breaks({professional_id: record.version, **{p.id: p.version for p in providers.values()}})
        if breaks:
            first = breaks[0]
            raise BrokenHistory(
                "professional_id",
                f"the stored history this verdict would read does not verify: stream {first.stream_id} "
                f"version {first.version}: {first.detail}"
                + (f" (and {len(breaks) - 1} more)" if len(breaks) > 1 else "")
                + "; no verdict is issued on it until an auditor has run ce-ledger verify",
            )
        verdict = rules.evaluate(record, level, evaluation_year, providers)
        pins = (
            Pin(stream_id=professional_id, version=record.version, digest=record.head_digest),
            *(
                Pin(stream_id=p.id, version=p.version, digest=p.head_digest, role="provider")
                for _, p in sorted(providers.items())
            ),
        )
        fingerprint = verdict.fingerprint  # canonical JSON of every line: taken once
        for attempt in retrying():
            with attempt:
                now, _ = self.now()
                issued = VerdictIssued.next_in_chain(
                    uuid4(), recorded_at=now, professional_id=professional_id, issued_by=by, caused_by=by, channel=channel,
                    verdict=verdict, fingerprint=fingerprint, pins=pins,
                )
                filed = self.next_event(
                    VerdictFiled, verdict_index(professional_id), recorded_at=now, caused_by=by, channel=channel,
                    verdict_id=issued.originator_id, level=level, evaluation_year=evaluation_year,
                    rule_set_id=verdict.rule_set.id, passed=verdict.passed, fingerprint=fingerprint,
                )
                self.save(Events([issued, filed]))
                return issued
        raise AssertionError("unreachable")  # pragma: no cover

    def evaluate_pinned(self, issued: VerdictIssued, rules: RuleSet) -> tuple[Verdict, Verdict]:
        """The verdict's evaluation again under ``rules``: on the record and CE bases as it
        pinned them (what a replay compares), and on the record as it is now."""
        recorded = issued.verdict
        pin = issued.pins[0]
        pinned = {p.stream_id: p.version for p in issued.pins if p.role == "provider"}
        then_record = self.professional(pin.stream_id, pin.version, copy=False)  # type: ignore[attr-defined]
        then = rules.evaluate(
            then_record, recorded.level, recorded.evaluation_year, self.providers_of(then_record, pinned)  # type: ignore[attr-defined]
        )
        now_record = self.professional(pin.stream_id, copy=False)  # type: ignore[attr-defined]
        now = rules.evaluate(now_record, recorded.level, recorded.evaluation_year, self.providers_of(now_record))  # type: ignore[attr-defined]
        return then, now

    def verdict(self, verdict_id: UUID) -> VerdictIssued:
        found = self.first(verdict_id)
        if not isinstance(found, VerdictIssued):
            raise NotFound("verdict_id", f"no verdict {verdict_id}")
        return found

    def verdicts_of(self, professional_id: UUID) -> list[VerdictFiled]:
        """The person's verdicts, oldest first (from their verdict index)."""
        self.require(professional_id)  # type: ignore[attr-defined]
        return list(self.events.get(verdict_index(professional_id)))  # type: ignore[arg-type]
