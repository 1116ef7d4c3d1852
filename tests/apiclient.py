"""Driving the HTTP API through FastAPI's test client: tokens for every role, request bodies."""

from __future__ import annotations

from uuid import UUID

from fastapi.testclient import TestClient

from ce_ledger.access import Principal, Role
from tests.builders import id_number

UNIT, OTHER_UNIT = "U-1", "U-2"


def person_body(number: str, unit: str = UNIT, **over) -> dict:
    return {
        "id_number": number, "name": "马晓明", "series": "工程技术",
        "requires_foreign_language_exam": False, "requires_computer_exam": False,
        "own_ce_regulation": False, "employer_unit": unit, **over,
    }


class Api:
    def __init__(self, client: TestClient, services):
        self.client = client
        self.services = services
        access = client.app.state.access
        self.number = id_number()
        self.tokens: dict[str, str] = {}
        for key, role, unit in (
            ("platform", Role.PLATFORM, None), ("employer", Role.EMPLOYER, UNIT),
            ("other_employer", Role.EMPLOYER, OTHER_UNIT), ("committee", Role.COMMITTEE, None),
            ("auditor", Role.AUDITOR, None),
        ):
            self.tokens[key] = access.issue(Principal(role=role, unit=unit, name=key))
        self.pid = self.post("/v1/professionals", person_body(self.number), "platform").json()["professional_id"]
        self.tokens["self"] = access.issue(Principal(role=Role.PROFESSIONAL, professional_id=self.pid, name="self"))
        other = self.post("/v1/professionals", person_body(id_number(), OTHER_UNIT), "platform").json()
        self.tokens["other_professional"] = access.issue(
            Principal(role=Role.PROFESSIONAL, professional_id=other["professional_id"], name="other")
        )

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        token = "cel_unknown" if who == "unknown" else self.tokens[who]
        return {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body, who: str | None = "committee", **kw):
        return self.client.post(path, json=body, headers=self.headers(who), **kw)

    def get(self, path: str, who: str | None = "committee"):
        return self.client.get(path, headers=self.headers(who))

    def events(self) -> int:
        return len(self.services.ledger.history(UUID(self.pid)))



def completion(number: str, record_id: str, hours="2", on="2016-03-01", **over) -> dict:
    return {"record_id": record_id, "id_number": number, "course_code": "GX-1", "title": "公需课",
            "hours": hours, "completed_on": on, **over}


SPECIALTY = {"provider_code": "NXJD-01", "certificate_no": "C-100", "route": "training_class",
             "subject": "研修", "hours": "40", "completed_on": "2016-05-01"}


# -- registration ----------------------------------------------------------------------------
