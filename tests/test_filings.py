"""CE bases file their certificates (备案), plain or signed; matching claims verify themselves."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from ce_ledger.access import Principal, Role
from ce_ledger.domain.provider import ProviderLevel, ProviderStatusChange
from tests.builders import id_number, public, specialty

BASE = "NXJD-01"
SIGNED_AT = int(datetime(2018, 6, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def settings(sqlite_settings):
    """The filing rules over HTTP on SQLite; the stores themselves are tested on both elsewhere."""
    return sqlite_settings


@pytest.fixture
def base(api):
    ledger = api.services.ledger
    ledger.accredit_provider(BASE, name="宁夏交通继续教育基地", level=ProviderLevel.REGIONAL, effective_on=date(2012, 1, 1),
                             decision_ref="认定", by="auditor:a")
    api.tokens["provider"] = api.client.app.state.access.issue(Principal(role=Role.PROVIDER, provider=BASE, name="备案员"))
    api.tokens["other_provider"] = api.client.app.state.access.issue(
        Principal(role=Role.PROVIDER, provider="NXWJ-02", name="别家"))
    return api


def certificate(number: str, holder: str, hours: str = "40", on: str = "2018-05-04", **over) -> dict:
    return {"certificate_no": number, "holder_id_number": holder, "subject": "桥梁检测", "route": "training_class",
            "hours": hours, "completed_on": on, **over}


def claim(api, number: str, hours: str = "40", on: str = "2018-05-04", pid: str | None = None) -> dict:
    body = {"provider_code": BASE, "certificate_no": number, "route": "training_class", "subject": "桥梁检测",
            "hours": hours, "completed_on": on}
    r = api.post(f"/v1/professionals/{pid or api.pid}/specialty-credits", body, "employer")
    assert r.status_code == 201, r.text
    return r.json()


def status_of(api, activity_id: str, pid: str | None = None) -> tuple[str, str | None]:
    record = api.services.ledger.professional(UUID(pid or api.pid), copy=False)
    activity = record.activity(UUID(activity_id))
    return activity.status.value, activity.decision.decided_by if activity.decision else None


def file(api, *items, who="provider", credentials=()):
    r = api.post(f"/v1/providers/{BASE}/filings", {"certificates": list(items), "credentials": list(credentials)}, who)
    assert r.status_code == 200, r.text
    assert r.headers["connection"] == "close"  # a batch's answer frees its connection (api/batches.py)
    return r.json()


def test_filing_duplicate_and_conflict_and_claims_before_and_after(base):
    api = base
    # A claim first, then the filing: the filing settles it.
    early = claim(api, "ZS-1")
    assert status_of(api, early["activity_id"]) == ("pending", None)
    done = file(api, certificate("ZS-1", api.number))
    assert done["filed"] == 1 and done["results"][0]["verified_claim"] is True
    assert status_of(api, early["activity_id"]) == ("verified", "filing:NXJD-01")
    # The same filing again is a duplicate; other content for the number is a conflict; nothing recorded.
    before = api.services.ledger.position()
    again = file(api, certificate("ZS-1", api.number), certificate("ZS-1", api.number, hours="60"))
    assert [r["status"] for r in again["results"]] == ["duplicate", "conflict"]
    assert api.services.ledger.position() == before
    # The filing first, then a matching claim: verified as it is recorded, and the queue never holds it.
    file(api, certificate("ZS-2", api.number))
    late = claim(api, "ZS-2")
    assert status_of(api, late["activity_id"]) == ("verified", "filing:NXJD-01")
    # The verdict line names the filing as the reason.
    verdict = api.post(f"/v1/professionals/{api.pid}/verdicts", {"evaluation_year": 2019, "level": "intermediate"}).json()
    line = next(i for i in verdict["items"] if i["activity_id"] == late["activity_id"])
    assert "filing:NXJD-01" in line["reason"] and "基地备案核验 NXJD-01（未签名）" in json.dumps(verdict["in_chinese"], ensure_ascii=False)
    # No clear ID number is stored: the filing holds the record id.
    shown = api.get(f"/v1/providers/{BASE}/filings/ZS-2", "committee").json()
    assert shown["holder"] == api.pid and api.number not in json.dumps(shown)
    assert api.get(f"/v1/providers/{BASE}/filings/ZS-2", "employer").status_code == 403


@pytest.mark.parametrize(("over", "field"), [({"hours": "80"}, "hours"), ({"on": "2018-05-09"}, "completed_on"),
                                             ({"holder": "other"}, "holder")])
def test_a_claim_that_contradicts_its_filing_waits_for_a_person_with_the_differences(base, over, field):
    api = base
    holder = id_number() if over.get("holder") else api.number
    file(api, certificate("ZS-3", holder))
    made = claim(api, "ZS-3", hours=over.get("hours", "40"), on=over.get("on", "2018-05-04"))
    assert status_of(api, made["activity_id"]) == ("pending", None)
    details = api.services.ledger.professional(UUID(api.pid), copy=False).activity(UUID(made["activity_id"])).recorded
    assert api.services.ledger.filing_status(details, UUID(api.pid))["differences"] == [field]


def test_a_withdrawn_filing_takes_back_what_it_verified_and_old_verdicts_replay(base):
    api = base
    file(api, certificate("ZS-4", api.number))
    made = claim(api, "ZS-4")
    issued = api.post(f"/v1/professionals/{api.pid}/verdicts", {"evaluation_year": 2019, "level": "intermediate"}).json()
    r = api.post(f"/v1/providers/{BASE}/filings/ZS-4/withdrawal", {"reason": "证书信息有误"}, "provider")
    assert r.status_code == 201
    assert api.post(f"/v1/providers/{BASE}/filings/ZS-4/withdrawal", {"reason": "证书信息有误"}, "provider").status_code == 200
    state, by = status_of(api, made["activity_id"])
    assert state == "pending" and by == "filing-withdrawn:NXJD-01"
    decision = api.services.ledger.professional(UUID(api.pid), copy=False).activity(UUID(made["activity_id"])).decision
    assert "证书信息有误" in decision.reason
    # Back in the employer's queue; the verdict issued before still replays to its fingerprint.
    assert made["activity_id"] in {r["activity_id"] for r in api.services.view.pending_claims("U-1", 50, 0)[0]}
    assert api.post(f"/v1/verdicts/{issued['verdict_id']}/replay", {}, "auditor").json()["reproduced"] is True
    # A person may decide it now.
    ok = api.post(f"/v1/professionals/{api.pid}/specialty-credits/{made['activity_id']}/verification",
                  {"decision": "verified", "reason": "原件核实"}, "employer")
    assert ok.status_code == 201, ok.text


def test_claims_recorded_in_a_batch_meet_their_filings_as_one_by_one(base):
    """``record_batch`` (an import, a migration) reads the filings of all its claims in one query
    and settles each as ``record`` does: filed and matching is verified by the filing; a claim that
    contradicts its filing, one whose filing was withdrawn and one not filed wait for a person."""
    api = base
    file(api, certificate("ZS-B1", api.number), certificate("ZS-B2", api.number, hours="30"),
         certificate("ZS-B3", api.number))
    assert api.post(f"/v1/providers/{BASE}/filings/ZS-B3/withdrawal", {"reason": "证书信息有误"}, "provider").status_code == 201
    pid = UUID(api.pid)
    claims = [(pid, specialty("40", date(2018, 5, 4), cert=n, provider=BASE)) for n in ("ZS-B1", "ZS-B2", "ZS-B3", "ZS-B4")]
    done = api.services.ledger.record_batch([*claims, (pid, public("2", date(2018, 5, 4)))], by="employer:U-1")
    assert [status_of(api, str(o.activity_id)) for o in done[:4]] == [
        ("verified", "filing:NXJD-01"), ("pending", None), ("pending", None), ("pending", None)]
    assert done[0].position > done[1].position  # the verification came after the batch
    assert done[4].status == "recorded"


def test_only_the_base_itself_or_an_auditor_files(base):
    api = base
    r = api.post(f"/v1/providers/{BASE}/filings", {"certificates": [certificate("ZS-5", api.number)]}, "other_provider")
    assert r.status_code == 403
    assert api.post(f"/v1/providers/{BASE}/filings", {"certificates": []}, "employer").status_code == 403
    bad = file(api, certificate("ZS-5", "640104198506120315"), certificate("ZS-6", api.number, hours="-1"))
    assert [(x["status"], x["field"]) for x in bad["results"]] == [("refused", "holder_id_number"), ("refused", "hours")]
    assert "640104198506120315" not in json.dumps(bad)


def test_a_disqualified_bases_certificate_stays_excluded_whatever_its_filing(base):
    api = base
    ledger = api.services.ledger
    ledger.change_provider_status(BASE, ProviderStatusChange(status="ordered_to_rectify", effective_on=date(2017, 1, 1),
                                                             deadline=date(2017, 6, 30), decision_ref="整改", reason="考核不合格"), by="auditor:a")
    ledger.change_provider_status(BASE, ProviderStatusChange(status="disqualified", effective_on=date(2017, 7, 1),
                                                             decision_ref="取消", reason="整改不合格"), by="auditor:a")
    file(api, certificate("ZS-7", api.number, on="2017-09-01"))
    made = claim(api, "ZS-7", on="2017-09-01")
    assert status_of(api, made["activity_id"])[0] == "verified"
    verdict = api.post(f"/v1/professionals/{api.pid}/verdicts", {"evaluation_year": 2019, "level": "intermediate"}).json()
    line = next(i for i in verdict["items"] if i["activity_id"] == made["activity_id"])
    assert line["credited_hours"] == "0" and "disqualified" in line["reason"]


# -- signed credentials ---------------------------------------------------------------------------


def credential(key, kid: str, number: str, holder: str, *, alg: str = "Ed25519", iat: int = SIGNED_AT,
               index: int | None = None, hours: str = "40", issuer: str = BASE) -> str:
    payload = {"iss": f"ce-base:{issuer}", "iat": iat, "sub": holder, "jti": f"urn:ce-cert:{issuer}:{number}",
               "vc": {"type": ["VerifiableCredential", "CECompletionCertificate"],
                      "credentialSubject": {"certificate_no": number, "subject": "桥梁检测", "route": "training_class",
                                            "hours": hours, "completed_on": "2018-05-04"}}}
    if index is not None:
        payload["vc"]["credentialStatus"] = {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                                             "statusListIndex": index}
    return jws.serialize_compact({"alg": alg, "kid": kid, "typ": "vc+jwt"}, json.dumps(payload), key, algorithms=[alg])


def status_list(key, kid: str, revoked: set[int], size: int = 131072) -> str:
    bits = bytearray(size // 8)
    for i in revoked:
        bits[i // 8] |= 0x80 >> (i % 8)
    encoded = base64.urlsafe_b64encode(gzip.compress(bytes(bits))).decode().rstrip("=")
    payload = {"iss": f"ce-base:{BASE}", "iat": SIGNED_AT + 86400 * 200,
               "vc": {"type": ["VerifiableCredential", "BitstringStatusListCredential"],
                      "credentialSubject": {"statusPurpose": "revocation", "encodedList": encoded}}}
    return jws.serialize_compact({"alg": "Ed25519", "kid": kid}, json.dumps(payload), key, algorithms=["Ed25519"])


def register(api, key, kid: str, valid_from="2018-01-01T00:00:00Z", valid_until=None, who="provider"):
    return api.post(f"/v1/providers/{BASE}/keys", {"kid": kid, "jwk": key.as_dict(private=False),
                                                   "valid_from": valid_from, "valid_until": valid_until}, who)


def test_signed_credentials_keys_rotation_expiry_tampering_and_revocation(base):
    api = base
    key = OKPKey.generate_key("Ed25519")
    assert register(api, key, "k2018", valid_until="2018-12-31T23:59:59Z").status_code == 201
    assert register(api, key, "k2018", valid_until="2018-12-31T23:59:59Z").status_code == 200  # a retry
    private = api.post(f"/v1/providers/{BASE}/keys", {"kid": "bad", "jwk": key.as_dict(private=True),
                                                      "valid_from": "2018-01-01T00:00:00Z"}, "provider")
    assert private.status_code == 422 and "jwk" in private.text
    # Rotation: a P-256 key from 2019.
    newer = ECKey.generate_key("P-256")
    assert register(api, newer, "k2019", valid_from="2019-01-01T00:00:00Z").status_code == 201
    good = credential(key, "k2018", "ZS-S1", api.number, index=3)
    head, body, sig = good.split(".")
    tampered_body = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(body + "==").replace(b'"hours": "40"', b'"hours": "90"')).decode().rstrip("=")
    wrong_key = credential(OKPKey.generate_key("Ed25519"), "k2018", "ZS-S2", api.number)
    expired = credential(key, "k2018", "ZS-S3", api.number, iat=int(datetime(2019, 2, 1, tzinfo=UTC).timestamp()))
    unknown = credential(key, "k-none", "ZS-S4", api.number)
    early = credential(newer, "k2019", "ZS-S5", api.number, alg="ES256")  # signed in 2018, key valid from 2019
    rotated = credential(newer, "k2019", "ZS-S6", api.number, alg="ES256", iat=int(datetime(2019, 2, 1, tzinfo=UTC).timestamp()))
    done = file(api, credentials=[good, f"{head}.{tampered_body}.{sig}", wrong_key, expired, unknown, early, rotated])
    results = done["results"]
    assert [r["status"] for r in results] == ["filed", "refused", "refused", "refused", "refused", "refused", "filed"]
    assert results[0]["signed_with"] == "k2018" and results[6]["signed_with"] == "k2019"
    assert "bad signature" in results[1]["problem"] and "bad signature" in results[2]["problem"]
    assert "expired" in results[3]["problem"] and "unknown key" in results[4]["problem"]
    assert "not yet valid" in results[5]["problem"] and all(r["field"] == "credential" for r in results[1:6])
    # A claim of the signed certificate verifies itself, naming the key.
    made = claim(api, "ZS-S1")
    assert status_of(api, made["activity_id"]) == ("verified", "filing:NXJD-01:k2018")
    # The base revokes it in its status list (signed with its key): the filing is withdrawn.
    revoked = api.post(f"/v1/providers/{BASE}/status-list", {"credential": status_list(key, "k2018", {3, 99})}, "provider")
    assert revoked.status_code == 200 and revoked.json()["withdrawn"] == ["ZS-S1"]
    assert status_of(api, made["activity_id"])[0] == "pending"
    # Retiring a key refuses what it signs from then on.
    api.post(f"/v1/providers/{BASE}/keys/k2019/retirement", {"retired_from": "2019-03-01T00:00:00Z", "reason": "私钥泄露"},
             "provider")
    after = credential(newer, "k2019", "ZS-S7", api.number, alg="ES256", iat=int(datetime(2019, 3, 2, tzinfo=UTC).timestamp()))
    assert "retired" in file(api, credentials=[after])["results"][0]["problem"]
    listed = api.get(f"/v1/providers/{BASE}/keys", "committee").json()
    assert {k["kid"]: k["retired_from"] is not None for k in listed} == {"k2018": False, "k2019": True}


def test_a_base_signs_in_its_own_process_and_a_real_server_verifies(tmp_path):
    """The key is generated here; the server only ever sees its public part and the signed credential."""
    
    from ce_ledger.bootstrap import build_access
    from ce_ledger.config import Settings
    from tests.serving import client, environment, serving, token

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    env = environment(settings)
    auditor, employer = token(settings, "auditor", "抽查"), token(settings, "employer", "人事处", unit="U-9")
    access = build_access(settings)
    provider = access.issue(Principal(role=Role.PROVIDER, provider=BASE, name="备案员"))
    access.close()
    key = OKPKey.generate_key("Ed25519")
    holder = id_number()
    with serving(env, tmp_path / "server.log") as server:
        auth = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
        with client(server.base, timeout=30) as c:
            assert c.post("/v1/providers", headers=auth(auditor), json={
                "code": BASE, "name": "宁夏交通继续教育基地", "level": "regional", "effective_on": "2012-01-01",
                "decision_ref": "认定"}).status_code == 201
            assert c.post(f"/v1/providers/{BASE}/keys", headers=auth(provider), json={
                "kid": "k1", "jwk": key.as_dict(private=False), "valid_from": "2018-01-01T00:00:00Z"}).status_code == 201
            pid = c.post("/v1/professionals", headers=auth(employer), json={
                "id_number": holder, "name": "周新", "series": "工程技术", "requires_foreign_language_exam": False,
                "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-9"}).json()["professional_id"]
            filed = c.post(f"/v1/providers/{BASE}/filings", headers=auth(provider),
                           json={"credentials": [credential(key, "k1", "ZS-R1", holder)]}).json()
            assert filed["filed"] == 1 and filed["results"][0]["signed_with"] == "k1"
            made = c.post(f"/v1/professionals/{pid}/specialty-credits", headers=auth(employer), json={
                "provider_code": BASE, "certificate_no": "ZS-R1", "route": "training_class", "subject": "桥梁检测",
                "hours": "40", "completed_on": "2018-05-04"}).json()
            events = c.get(f"/v1/professionals/{pid}/history", headers=auth(auditor)).json()["events"]
            decided = [e for e in events if e["data"].get("activity_id") == made["activity_id"] and "decided_by" in e["data"]]
            assert decided and decided[-1]["data"]["decided_by"] == "filing:NXJD-01:k1"
            assert holder not in (tmp_path / "server.log").read_text()


def test_the_workbench_shows_on_a_claim_whether_it_is_filed_signed_and_matching(base):
    from tests.test_workbench import signed_in

    api = base
    file(api, certificate("ZS-W1", api.number, hours="30"))
    claim(api, "ZS-W1")  # 40 claimed, 30 filed: stays for a person
    claim(api, "ZS-W2")  # not filed
    file(api, certificate("ZS-W3", api.number))
    claim(api, "ZS-W3")  # matches: verified, not in the queue
    signed_in(api, "employer")
    queue = api.client.get("/workbench/queue").text
    assert "与备案不符（学时），未签名" in queue and "基地未备案：须人工核对证书" in queue
    assert "ZS-W3" not in queue
    record = api.client.get(f"/workbench/professionals/{api.pid}").text
    assert "与备案一致，未签名" in record and "基地备案核验 NXJD-01（未签名）" in record


def test_a_roster_spreadsheet_is_filed_row_by_row(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from api import cli
    from ce_ledger.bootstrap import build_services
    from ce_ledger.config import Settings
    from tests.builders import registration

    monkeypatch.setenv("CE_LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    holder = id_number()
    with build_services(Settings()) as services:
        services.ledger.accredit_provider(BASE, name="基地", level=ProviderLevel.REGIONAL, effective_on=date(2012, 1, 1),
                                          decision_ref="认定", by="auditor:a")
        services.ledger.register(registration(holder), by="committee:c")
    roster = tmp_path / "roster.csv"
    roster.write_text("证书编号,身份证号,培训内容,学习方式,学时,结业日期\n"
                      f"ZS-X1,{holder},桥梁检测,培训班,40,2018-05-04\n"
                      f"ZS-X2,{holder},隧道,培训班,abc,2018-05-04\n"
                      "ZS-X3,640104198506120315,隧道,培训班,8,2018-05-04\n", encoding="gb18030")
    runner = CliRunner()
    done = runner.invoke(cli.app, ["file-roster", str(roster), "--provider", BASE, "--json"])
    report = json.loads(done.stdout)
    assert done.exit_code == 1 and (report["filed"], len(report["problems"])) == (1, 2)
    assert {p["column"] for p in report["problems"]} == {"学时", "身份证号"} and "640104198506120315" not in done.stdout
    again = json.loads(runner.invoke(cli.app, ["file-roster", str(roster), "--provider", BASE, "--json"]).stdout)
    assert (again["filed"], again["duplicate"]) == (0, 1)
