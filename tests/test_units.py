"""The unit register: a registration (or import) names the unit; names show beside codes."""

from __future__ import annotations

from ce_ledger.domain.unit import UnitNamed, unit_stream
from tests.apiclient import OTHER_UNIT, UNIT, person_body
from tests.builders import id_number


def names(api, code: str) -> list[tuple[str, str]]:
    return [(e.name, e.caused_by) for e in api.services.ledger.events.get(unit_stream(code))
            if isinstance(e, UnitNamed)]


def test_a_registration_names_its_unit_once_and_a_rename_is_a_new_event(api):
    body = person_body(id_number(), employer_unit_name="宁夏交通建设股份有限公司")
    assert api.post("/v1/professionals", body, "committee").status_code == 201
    # The same registration again (a retry), and another person of the unit with the same name: nothing new.
    assert api.post("/v1/professionals", body, "committee").status_code == 200
    assert api.post("/v1/professionals", person_body(id_number(), employer_unit_name="宁夏交通建设股份有限公司"),
                    "employer").status_code == 202
    assert names(api, UNIT) == [("宁夏交通建设股份有限公司", "committee:committee")]
    # The unit renamed by its own employer, over the unit register itself.
    renamed = api.client.put(f"/v1/units/{UNIT.lower()}", json={"name": "宁夏交通投资集团"}, headers=api.headers("employer"))
    assert renamed.status_code == 201 and renamed.json()["named_by"] == "employer:U-1:employer"
    assert api.client.put(f"/v1/units/{UNIT}", json={"name": "宁夏交通投资集团"},
                          headers=api.headers("employer")).status_code == 200
    assert [n for n, _ in names(api, UNIT)] == ["宁夏交通建设股份有限公司", "宁夏交通投资集团"]

    listed = api.get("/v1/units", "committee").json()
    assert {u["code"]: (u["name"], u["staff"]) for u in listed["units"]} == {
        UNIT: ("宁夏交通投资集团", 3), OTHER_UNIT: (None, 1),
    }
    # An employer sees (and names) its own unit only; a professional has no unit register.
    assert [u["code"] for u in api.get("/v1/units", "employer").json()["units"]] == [UNIT]
    assert api.get("/v1/units?q=交通", "committee").json()["total"] == 1
    refused = api.client.put(f"/v1/units/{OTHER_UNIT}", json={"name": "别家"}, headers=api.headers("employer"))
    assert refused.status_code == 403 and names(api, OTHER_UNIT) == []
    assert api.get("/v1/units", "self").status_code == 403
    bad = api.client.put(f"/v1/units/{UNIT}", json={"name": ""}, headers=api.headers("committee"))
    assert bad.status_code == 422 and "name" in bad.text
