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
from api.labels import CREDITED, LEVELS

@dataclass(frozen=True)
class AssessmentForm:
    name: str
    masked_id: str
    series: str
    unit: str
    issued: VerdictIssued

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
    def rows(self) -> list[tuple[str, str]]:
        c = self.verdict.credited
        return [(label, str(getattr(c, key))) for key, label in CREDITED]


def assessment_form(ledger: Ledger, professional_id: UUID, level: Level, evaluation_year: int) -> AssessmentForm:
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
    return AssessmentForm(person.name, person.registration.masked_id, person.series.name, person.employer_unit, issued)


def render_pdf(html: str) -> bytes:
    """The same HTML, laid out for A4 by WeasyPrint; fonts come from fontconfig (a CJK font,
    e.g. Debian's fonts-noto-cjk, must be installed, or Chinese prints as boxes)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
