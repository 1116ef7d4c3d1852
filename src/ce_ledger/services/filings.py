"""CE bases' filings (备案): file certificates (plain or signed), withdraw them, register and retire
signing keys, apply a published status list; and settle claims against filings both ways.

A specialty claim whose certificate is on file for the same holder with the same hours and date is
verified by the filing (the actor ``filing:<base>[:<key id>]`` names it on the verdict line); a claim
that contradicts its filing stays in the employer's queue with the differences shown; a filing that
arrives after the claim settles it then; a withdrawn filing takes back what it verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from ce_ledger.domain.commands import Verification
from ce_ledger.domain.details import ActivityDetails, SpecialtyCredit
from ce_ledger.domain.errors import Conflict, InvalidInput, LedgerError, NotFound
from ce_ledger.domain.filing import (
    Certificate, CertificateFiled, CertificateWithdrawn, ProviderKeyRegistered, ProviderKeyRetired, SigningKey,
    StatusEntryFiled, certificate_key, filing_stream, keys_stream, status_stream,
)
from ce_ledger.domain.professional import Outcome, Status, terms_to_decide
from ce_ledger.domain.values import Channel, Decision, canonical_code
# ``ce_ledger.services.credentials`` (joserfc, cryptography: ~0.07 s to import) is imported where a
# key or a signed credential is read: most processes never read one.
from ce_ledger.services.base import Events, KeyClaim, Store, retrying


@dataclass(frozen=True)
class FilingResult:
    certificate_no: str | None
    status: str  # filed | duplicate | conflict | refused
    problem: str | None = None
    field: str | None = None
    signed_with: str | None = None
    verified_claim: bool = False


def filing_actor(filed: CertificateFiled) -> str:
    return f"filing:{canonical_code(filed.provider_code)}" + (f":{filed.signed_with}" if filed.signed_with else "")


class Filings(Store):
    # -- keys ---------------------------------------------------------------------------------

    def register_key(self, code: str, key: SigningKey, *, by: str, channel: Channel = Channel.DIRECT
                     ) -> tuple[ProviderKeyRegistered, bool]:
        from ce_ledger.services import credentials

        self._base(code)
        alg = credentials.key_algorithm(key.jwk)
        if key.valid_until is not None and key.valid_until <= key.valid_from:
            raise InvalidInput("valid_until", "must be after valid_from")
        for attempt in retrying():
            with attempt:
                known, _ = self.keys_of(code)
                earlier = known.get(key.kid)
                if earlier is not None:
                    if SigningKey(kid=earlier.kid, jwk=earlier.jwk, valid_from=earlier.valid_from,
                                  valid_until=earlier.valid_until) == key:
                        return earlier, False
                    raise Conflict("kid", f"key {key.kid} is registered already with other content: use a new key id")
                now, _ = self.now()
                event = self.next_event(ProviderKeyRegistered, keys_stream(code), recorded_at=now, caused_by=by,
                                        channel=channel, provider_code=canonical_code(code), alg=alg,
                                        registered_by=by, **key.model_dump())
                self.save(Events([event]))
                return event, True
        raise AssertionError("unreachable")  # pragma: no cover

    def retire_key(self, code: str, kid: str, retired_from: datetime, reason: str, *, by: str,
                   channel: Channel = Channel.DIRECT) -> ProviderKeyRetired:
        for attempt in retrying():
            with attempt:
                known, retired = self.keys_of(code)
                if kid not in known:
                    raise NotFound("kid", f"base {code} has no key {kid}")
                now, _ = self.now()
                event = self.next_event(ProviderKeyRetired, keys_stream(code), recorded_at=now, caused_by=by,
                                        channel=channel, provider_code=canonical_code(code), kid=kid,
                                        retired_from=retired_from, reason=reason, retired_by=by)
                self.save(Events([event]))
                return event
        raise AssertionError("unreachable")  # pragma: no cover

    def keys_of(self, code: str) -> tuple[dict[str, ProviderKeyRegistered], dict[str, datetime]]:
        known: dict[str, ProviderKeyRegistered] = {}
        retired: dict[str, datetime] = {}
        for event in self.events.get(keys_stream(code)):
            if isinstance(event, ProviderKeyRegistered):
                known[event.kid] = event
            elif isinstance(event, ProviderKeyRetired):
                retired[event.kid] = min(event.retired_from, retired.get(event.kid, event.retired_from))
        return known, retired

    # -- filing -----------------------------------------------------------------------------------

    def file_certificates(self, code: str, items: list[Certificate | str | dict[str, Any]], *, by: str,
                          channel: Channel = Channel.DIRECT) -> list[FilingResult]:
        """File a roster: each item a certificate (or its fields), or a signed credential (a compact JWS).
        One bad item never blocks the others."""
        self._base(code)
        keys = None
        results = []
        for item in items:
            signed_with = digest = None
            try:
                if isinstance(item, str):
                    from ce_ledger.services import credentials

                    if keys is None:
                        keys = self.keys_of(code)
                    payload, signed_with = credentials.verify(item, code, *keys)
                    digest = hashlib.sha256(item.strip().encode("ascii")).hexdigest()
                    item = credentials.certificate_fields(payload)
                certificate = item if isinstance(item, Certificate) else Certificate.model_validate(item)
            except LedgerError as e:
                results.append(FilingResult(_number(item), "refused", e.rule, e.field))
                continue
            except ValidationError as e:
                problem = InvalidInput.from_validation(e)
                results.append(FilingResult(_number(item), "refused", problem.rule, problem.field))
                continue
            results.append(self._file(code, certificate, signed_with, digest, by, channel))
        return results

    def _file(self, code: str, certificate: Certificate, signed_with: str | None, digest: str | None, by: str,
              channel: Channel) -> FilingResult:
        stream = filing_stream(code, certificate.certificate_no)
        holder = self.professional_id_for(certificate.holder_id_number)
        for attempt in retrying():
            with attempt:
                filed, withdrawn = self.filing(code, certificate.certificate_no)
                now, _ = self.now()
                draft = CertificateFiled.next_in_chain(
                    stream, None, recorded_at=now, caused_by=by, channel=channel, provider_code=canonical_code(code),
                    certificate_no=certificate.certificate_no, holder=holder, subject=certificate.subject,
                    route=certificate.route, hours=certificate.hours, completed_on=certificate.completed_on,
                    programme_code=certificate.programme_code, status_index=certificate.status_index,
                    signed_with=signed_with, credential_sha256=digest, filed_by=by,
                )
                if filed is not None:
                    if withdrawn is not None:
                        return FilingResult(certificate.certificate_no, "conflict",
                                            "this certificate was filed and withdrawn; it is not filed again", "certificate_no")
                    if filed.content() != draft.content():
                        return FilingResult(certificate.certificate_no, "conflict",
                                            "filed already with other content (holder, subject, route, hours, date or "
                                            "programme): withdraw it first", "certificate_no")
                    settled = self._settle_filing(filed)
                    return FilingResult(certificate.certificate_no, "duplicate", signed_with=filed.signed_with,
                                        verified_claim=settled)
                event = draft  # the stream is new: this is its first event
                extra = []
                if certificate.status_index is not None:
                    extra.append(self.next_event(StatusEntryFiled, status_stream(code, certificate.status_index),
                                                 recorded_at=now, caused_by=by, channel=channel,
                                                 provider_code=canonical_code(code), index=certificate.status_index,
                                                 certificate_no=certificate.certificate_no))
                self.save(Events([event, *extra]))
        settled = self._settle_filing(event)
        return FilingResult(certificate.certificate_no, "filed", signed_with=signed_with, verified_claim=settled)

    def filing(self, code: str, certificate_no: str) -> tuple[CertificateFiled | None, CertificateWithdrawn | None]:
        return _filed_and_withdrawn(self.events.get(filing_stream(code, certificate_no)))

    def withdraw_filing(self, code: str, certificate_no: str, reason: str, *, by: str,
                        channel: Channel = Channel.DIRECT) -> tuple[CertificateWithdrawn, bool]:
        for attempt in retrying():
            with attempt:
                filed, withdrawn = self.filing(code, certificate_no)
                if filed is None:
                    raise NotFound("certificate_no", f"base {code} has no certificate {certificate_no} on file")
                if withdrawn is not None:
                    return withdrawn, False
                now, _ = self.now()
                event = self.next_event(CertificateWithdrawn, filing_stream(code, certificate_no), recorded_at=now,
                                        caused_by=by, channel=channel, provider_code=canonical_code(code),
                                        certificate_no=certificate_no, reason=reason, withdrawn_by=by)
                self.save(Events([event]))
        self._take_back(filed, event)
        return event, True

    def apply_status_list(self, code: str, compact: str, *, by: str, channel: Channel = Channel.DIRECT) -> list[str]:
        """The base's published status list (signed): every filed certificate whose bit is set is withdrawn."""
        from ce_ledger.services import credentials

        self._base(code)
        payload, kid = credentials.verify(compact, code, *self.keys_of(code))
        withdrawn = []
        for index in sorted(credentials.revoked_indexes(payload)):
            entry = self.head(status_stream(code, index))
            if not isinstance(entry, StatusEntryFiled):
                continue
            _, created = self.withdraw_filing(code, entry.certificate_no,
                                              f"revoked in the base's status list (index {index}, key {kid})",
                                              by=by, channel=channel)
            if created:
                withdrawn.append(entry.certificate_no)
        return withdrawn

    def _base(self, code: str) -> None:
        try:
            self.provider(code, copy=False)  # type: ignore[attr-defined]
        except NotFound:
            raise NotFound("provider_code", f"no CE base {code} is on record: it is accredited first") from None

    # -- settling claims -----------------------------------------------------------------------------

    def _after_recorded(self, professional_id: UUID, details: ActivityDetails, outcome: Outcome) -> Outcome:
        """A claim just recorded meets its filing, if the base filed it already."""
        if _claimed(details, outcome) is None:
            return outcome
        return self._meet_filing(professional_id, details, outcome, *self.filing(details.provider_code, details.certificate_no))

    def _after_recorded_batch(self, done: Sequence[tuple[UUID, Any, Outcome]]) -> list[Outcome]:
        """As ``_after_recorded`` for each, with the filings of the batch's claims read in one query
        (one query per certificate was a quarter of a migration's time)."""
        streams = [_claimed(d, o) for _, d, o in done]
        wanted = dict.fromkeys((s for s in streams if s is not None), 0)  # every version after 0: all
        if not wanted:
            return [outcome for _, _, outcome in done]
        to_domain = self.mapper.to_domain_event
        filings = {stream: _filed_and_withdrawn(map(to_domain, stored))
                   for stream, stored in self.recorder.events_after(wanted).items()}  # type: ignore[attr-defined]
        return [self._meet_filing(pid, d, o, *filings[s]) if s in filings else o
                for (pid, d, o), s in zip(done, streams, strict=True)]

    def _meet_filing(self, professional_id: UUID, details: SpecialtyCredit, outcome: Outcome,
                     filed: CertificateFiled | None, withdrawn: CertificateWithdrawn | None) -> Outcome:
        if filed is None or withdrawn is not None or filed.differences(details, professional_id):
            return outcome
        done = self._verify_by(filed, professional_id, outcome.activity_id)
        return outcome if done is None else Outcome(outcome.activity_id, "recorded", position=done.position)

    def _settle_filing(self, filed: CertificateFiled) -> bool:
        """A filing meets the claim already recorded for its certificate, if any."""
        held = self._holder(filed)
        if held is None:
            return False
        try:
            record = self.professional(held.professional_id, copy=False)  # type: ignore[attr-defined]
            activity = record.activity(held.activity_id)
        except LedgerError:
            return False
        if activity.status is not Status.PENDING or filed.differences(activity.recorded, held.professional_id):
            return False
        return self._verify_by(filed, held.professional_id, held.activity_id) is not None

    def _verify_by(self, filed: CertificateFiled, professional_id: UUID, activity_id: UUID) -> Outcome | None:
        signed = f", signed with key {filed.signed_with}" if filed.signed_with else ", unsigned"
        reason = (f"matches the base's filing (备案) of {filed.recorded_at:%Y-%m-%d}{signed}: "
                  "same holder, hours and date")
        try:
            return self.decide(professional_id, activity_id,  # type: ignore[attr-defined]
                               Verification(decision=Decision.VERIFIED, reason=reason), by=filing_actor(filed),
                               channel=Channel.FILING)
        except Conflict:
            return None  # decided by a person meanwhile: theirs stands

    def _take_back(self, filed: CertificateFiled, withdrawn: CertificateWithdrawn) -> None:
        held = self._holder(filed)
        if held is None:
            return
        for attempt in retrying():
            with attempt:
                record = self._in_part(held.professional_id, terms_to_decide(held.activity_id))  # type: ignore[attr-defined]
                now, today = self.now()
                outcome = record.unverify(held.activity_id, by=f"filing-withdrawn:{canonical_code(filed.provider_code)}",
                                          reason=f"the base withdrew its filing: {withdrawn.reason}", now=now,
                                          today=today, channel=Channel.FILING)
                self.save_outcome(outcome, record)
                return

    def _holder(self, filed: CertificateFiled) -> KeyClaim | None:
        """The last claim on the filed certificate (reading 12: one credit across everyone)."""
        return next(reversed(self.key_claims(certificate_key(filed.provider_code, filed.certificate_no))), None)

    def filing_status(self, details: SpecialtyCredit, claimant: UUID) -> dict[str, Any]:
        """What the workbench shows on a claim: filed, signed, matching (or the differences), withdrawn."""
        filed, withdrawn = self.filing(details.provider_code, details.certificate_no)
        if filed is None:
            return {"filed": False}
        return {"filed": True, "signed_with": filed.signed_with, "withdrawn": withdrawn.reason if withdrawn else None,
                "differences": filed.differences(details, claimant), "filed_on": filed.recorded_at}


def _number(item: Any) -> str | None:
    if isinstance(item, dict):
        return item.get("certificate_no")
    return getattr(item, "certificate_no", None)


def _claimed(details: Any, outcome: Outcome) -> UUID | None:
    """The filing stream a just-recorded specialty claim would meet; None for anything else."""
    if isinstance(details, SpecialtyCredit) and outcome.status == "recorded":
        return filing_stream(details.provider_code, details.certificate_no)
    return None


def _filed_and_withdrawn(events: Iterable[Any]) -> tuple[CertificateFiled | None, CertificateWithdrawn | None]:
    filed = withdrawn = None
    for event in events:
        if isinstance(event, CertificateFiled):
            filed = event
        elif isinstance(event, CertificateWithdrawn):
            withdrawn = event
    return filed, withdrawn
