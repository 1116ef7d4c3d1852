"""The CE assessment form (继续教育考核表, notice §3): one view-model, rendered as HTML or PDF.

The form is built from a *recorded* verdict, not a fresh evaluation, so the verification
line (verdict id and fingerprint) lets a reviewer replay exactly what the form shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ce_ledger.application import Ledger
from ce_ledger.domain.errors import NotFound
from ce_ledger.domain.values import Level
from ce_ledger.domain.verdicts import VerdictIssued
from ce_ledger.rules.verdict import CountsToward
from api.labels import CREDITED, LEVELS, actor_in_chinese

@dataclass(frozen=True)
class AssessmentForm:
    name: str
    masked_id: str
    series: str
    unit: str
    issued: VerdictIssued
    part: int = 1  # a long record's form is printed in parts of ``per_part`` lines
    per_part: int = 200

    @property
    def verdict(self):
        return self.issued.verdict

    @property
    def level_name(self) -> str:
        return LEVELS[self.verdict.level]

    @property
    def counted(self):
        return [line for line in self.verdict.items if line.counts_toward is not CountsToward.NOTHING]

    @property
    def every_line(self):
        """What counted, then what counted nothing (with why): a failed form shows its reasons."""
        nothing = [line for line in self.verdict.items if line.counts_toward is CountsToward.NOTHING]
        return self.counted + nothing

    @property
    def parts(self) -> int:
        return max(1, -(-len(self.every_line) // self.per_part))

    @property
    def first_line(self) -> int:
        return (self.part - 1) * self.per_part

    @property
    def lines(self):
        """This part's lines: rendering cost grows with lines, so no one request prints them all."""
        return self.every_line[self.first_line:self.first_line + self.per_part]

    @property
    def lines_counted(self):
        return [line for line in self.lines if line.counts_toward is not CountsToward.NOTHING]

    @property
    def lines_nothing(self):
        return [line for line in self.lines if line.counts_toward is CountsToward.NOTHING]

    @property
    def issuer(self) -> str:
        """Who issued it, as a reader of the paper understands: the role in Chinese, then the name
        (an actor is "role:binding:name")."""
        return actor_in_chinese(self.issued.issued_by)

    @property
    def code(self) -> str:
        """The verification code printed on the form: the fingerprint's first 12 hex digits."""
        head = self.issued.fingerprint[:12].upper()
        return "-".join(head[i:i + 4] for i in range(0, 12, 4))

    @property
    def rows(self) -> list[tuple[str, str]]:
        c = self.verdict.credited
        return [(label, str(getattr(c, key))) for key, label in CREDITED]


def assessment_form(ledger: Ledger, professional_id: UUID, level: Level, evaluation_year: int, part: int = 1,
                    per_part: int = 200) -> AssessmentForm:
    """The latest verdict recorded for this evaluation, with the person it is about."""
    in_force = ledger.rule_set_for(evaluation_year).id
    filed = [
        f for f in ledger.verdicts_of(professional_id)
        if f.level == level and f.evaluation_year == evaluation_year and f.rule_set_id == in_force
    ]
    if not filed:
        raise NotFound(
            "evaluation_year",
            f"no verdict is recorded for {level} in {evaluation_year} under the rule-set in force ({in_force}): "
            "a review committee issues one first (POST /v1/professionals/{id}/verdicts); the form shows a "
            "recorded verdict under the rules in force, so that it can be replayed",
        )
    issued = ledger.verdict(filed[-1].verdict_id)
    person = ledger.professional(professional_id, copy=False)
    form = AssessmentForm(person.name, person.registration.masked_id, person.series.name, person.employer_unit, issued,
                          part, per_part)
    if part > form.parts:
        raise NotFound("part", f"this form has {form.parts} part(s) of at most {per_part} lines")
    return form
