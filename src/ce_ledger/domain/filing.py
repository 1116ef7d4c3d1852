"""Training units file their certificates (备案, §3(5)); claims that match a filing verify themselves.

From 2019 a CE base no longer uploads hours: it issues completion certificates and keeps them on
file. Here it files them with the ledger — the certificate number, the holder (by the ledger's keyed
hash of the ID number, never the number), subject, route, hours and date — plain or as a signed
credential (docs/credentials.md). A filing is an event on the certificate's own filing stream (named
by the base and the certificate number, in canonical spelling), so a claim finds its filing in one
read. A base's signing keys are events on its key stream, each with its validity.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from pydantic import ConfigDict, Field

from ce_ledger.domain.details import SpecialtyCredit
from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.identity import IdNumber
from ce_ledger.domain.values import Code, Day, Hours, Route, Text, Value, canonical_code, canonical_key

FILING_NAMESPACE = UUID("9e4b2d71-0c5a-5f3e-8b16-4a7d2c9e1f05")
ALGORITHMS = ("Ed25519", "ES256")  # RFC 9864's Ed25519 (EdDSA's fully specified name) and ECDSA P-256


def certificate_key(provider_code: str, certificate_no: str) -> str:
    """The certificate's canonical key: the same as a claim's (SpecialtyCredit.canonical_key)."""
    return canonical_key("certificate", provider_code, certificate_no)


def filing_stream(provider_code: str, certificate_no: str) -> UUID:
    return uuid5(FILING_NAMESPACE, "filing:" + certificate_key(provider_code, certificate_no))


def keys_stream(provider_code: str) -> UUID:
    return uuid5(FILING_NAMESPACE, "keys:" + canonical_code(provider_code))


def status_stream(provider_code: str, index: int) -> UUID:
    return uuid5(FILING_NAMESPACE, f"status:{canonical_code(provider_code)}:{index}")


class Certificate(Value):
    """A certificate as a CE base files it (the command; the holder's ID number is dropped once hashed)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    certificate_no: Code
    holder_id_number: IdNumber
    subject: Text
    route: Route
    hours: Hours
    completed_on: Day
    programme_code: Code | None = None
    status_index: int | None = Field(default=None, ge=0, le=10_000_000, description="its place in the base's status list")

    def __repr__(self) -> str:  # never print the clear number by accident
        return f"Certificate(certificate_no={self.certificate_no!r})"

    __str__ = __repr__


class CertificateFiled(LedgerEvent):
    """A base's certificate on file. ``holder`` is the holder's record id (the keyed hash of the ID
    number); a signed filing names the key and keeps the credential's SHA-256, not the credential
    (which carries the clear ID number)."""

    provider_code: Code
    certificate_no: Code
    holder: UUID
    subject: Text
    route: Route
    hours: Hours
    completed_on: Day
    programme_code: Code | None = None
    status_index: int | None = None
    signed_with: str | None = None  # the key id
    credential_sha256: str | None = None
    filed_by: Text

    def content(self) -> tuple:
        """What decides whether a filing again is the same filing."""
        return (self.holder, self.subject, self.route, self.hours, self.completed_on, self.programme_code)

    def differences(self, claim: SpecialtyCredit, claimant: UUID) -> list[str]:
        """Where a claim contradicts this filing: the holder, the hours, the date."""
        found = []
        if claimant != self.holder:
            found.append("holder")
        if Decimal(claim.hours) != Decimal(self.hours):
            found.append("hours")
        if claim.completed_on != self.completed_on:
            found.append("completed_on")
        return found


class CertificateWithdrawn(LedgerEvent):
    """The base withdrew a filed certificate (by hand, or in its published status list)."""

    provider_code: Code
    certificate_no: Code
    reason: Text
    withdrawn_by: Text


class StatusEntryFiled(LedgerEvent):
    """On a status-list entry's stream: which certificate the base's status list index ``index`` is."""

    provider_code: Code
    index: int
    certificate_no: Code


class SigningKey(Value):
    """A base's public key (a JWK), for the credentials it signs in its validity period."""

    kid: str = Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_.:-]+$")
    jwk: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None = None


class ProviderKeyRegistered(LedgerEvent, SigningKey):
    provider_code: Code
    alg: str
    registered_by: Text


class ProviderKeyRetired(LedgerEvent):
    """A key ends early (rotated out, or compromised): credentials signed from ``retired_from`` on are refused."""

    provider_code: Code
    kid: str
    retired_from: datetime
    reason: Text
    retired_by: Text


FILING_EVENTS = (CertificateFiled, CertificateWithdrawn, StatusEntryFiled, ProviderKeyRegistered, ProviderKeyRetired)
