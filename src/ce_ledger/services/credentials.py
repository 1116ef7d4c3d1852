"""Reading a CE base's signed credentials (docs/credentials.md): a compact JWS, verified with the
base's registered public key (joserfc), within the key's validity. Pure: the keys are handed in.

A refusal is an ``InvalidInput`` naming ``credential`` and the reason: a bad signature, an unknown,
expired, retired or not-yet-valid key, a wrong issuer, a malformed payload.
"""

from __future__ import annotations

import base64
import zlib
import json
from datetime import UTC, datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from ce_ledger.domain.errors import InvalidInput
from ce_ledger.domain.filing import ALGORITHMS, ProviderKeyRegistered
from ce_ledger.domain.values import canonical_code

CERTIFICATE_TYPE = "CECompletionCertificate"
STATUS_LIST_TYPE = "BitstringStatusListCredential"
MAX_LIST_BYTES = 2 * 2**20  # 16.7 million entries: more certificates than a base issues


def refuse(rule: str) -> InvalidInput:
    return InvalidInput("credential", rule)


def key_algorithm(jwk: dict[str, Any]) -> str:
    """The algorithm a public JWK signs with; a private key, or another kind, is refused."""
    if "d" in jwk:
        raise InvalidInput("jwk", "this is a private key: register the public part only (no \"d\")")
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        OKPKey.import_key(jwk)
        return "Ed25519"
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        ECKey.import_key(jwk)
        return "ES256"
    raise InvalidInput("jwk", "a key is an Ed25519 (kty OKP, crv Ed25519) or P-256 (kty EC, crv P-256) public JWK")


def _key(registered: ProviderKeyRegistered) -> Any:
    return (OKPKey if registered.alg == "Ed25519" else ECKey).import_key(registered.jwk)


def verify(compact: str, provider_code: str, keys: dict[str, ProviderKeyRegistered],
           retired: dict[str, datetime]) -> tuple[dict[str, Any], str]:
    """The credential's payload and the key id that signed it; refused with the reason otherwise."""
    try:
        headers = jws.extract_compact(compact.strip().encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        raise refuse("not a compact JWS (header.payload.signature, base64url)") from None
    alg, kid = headers.get("alg"), headers.get("kid")
    if alg not in ALGORITHMS:
        raise refuse(f"alg must be one of {', '.join(ALGORITHMS)}, not {alg!r}")
    registered = keys.get(kid or "")
    if registered is None:
        raise refuse(f"unknown key {kid!r}: the base {provider_code} has registered no such key")
    if registered.alg != alg:
        raise refuse(f"key {kid} signs with {registered.alg}, not {alg}")
    try:
        payload = json.loads(jws.deserialize_compact(compact.strip(), _key(registered), algorithms=[alg]).payload)
    except JoseError:
        raise refuse(f"bad signature: the credential was altered, or not signed with key {kid}") from None
    except ValueError:
        raise refuse("the payload is not JSON") from None
    if not isinstance(payload, dict) or canonical_code(str(payload.get("iss", ""))) != canonical_code(f"ce-base:{provider_code}"):
        raise refuse(f"iss must be ce-base:{provider_code}")
    iat = payload.get("iat")
    if not isinstance(iat, int):
        raise refuse("iat (when it was signed, in seconds since 1970) is missing")
    signed_at = datetime.fromtimestamp(iat, UTC)
    if signed_at < registered.valid_from:
        raise refuse(f"key {kid} was not yet valid when this was signed ({signed_at:%Y-%m-%d}; valid from "
                     f"{registered.valid_from:%Y-%m-%d})")
    if registered.valid_until is not None and signed_at > registered.valid_until:
        raise refuse(f"key {kid} had expired when this was signed ({signed_at:%Y-%m-%d}; valid until "
                     f"{registered.valid_until:%Y-%m-%d})")
    if kid in retired and signed_at >= retired[kid]:
        raise refuse(f"key {kid} was retired from {retired[kid]:%Y-%m-%d}; this was signed {signed_at:%Y-%m-%d}")
    return payload, kid  # type: ignore[return-value]


def _vc(payload: dict[str, Any], kind: str) -> dict[str, Any]:
    vc = payload.get("vc")
    if not isinstance(vc, dict) or kind not in (vc.get("type") or []):
        raise refuse(f"vc.type must include {kind}")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict):
        raise refuse("vc.credentialSubject is missing")
    return vc


def certificate_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """A certificate credential's fields, as ``Certificate`` takes them (``sub`` is the holder's ID number)."""
    vc = _vc(payload, CERTIFICATE_TYPE)
    subject = vc["credentialSubject"]
    status = vc.get("credentialStatus") or {}
    fields = {k: subject.get(k) for k in ("certificate_no", "subject", "route", "hours", "completed_on", "programme_code")}
    fields["holder_id_number"] = payload.get("sub")
    if "statusListIndex" in status:
        fields["status_index"] = status["statusListIndex"]
    return {k: v for k, v in fields.items() if v is not None}


def revoked_indexes(payload: dict[str, Any]) -> set[int]:
    """The set bits of a status list credential (W3C Bitstring Status List: base64url of the GZIP of
    the bits, the first index in the most significant bit of the first byte)."""
    subject = _vc(payload, STATUS_LIST_TYPE)["credentialSubject"]
    if subject.get("statusPurpose") != "revocation":
        raise refuse("credentialSubject.statusPurpose must be revocation")
    encoded = str(subject.get("encodedList", ""))
    try:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # GZIP; bounded, so a small upload cannot inflate to gigabytes
        bits = inflate.decompress(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)), MAX_LIST_BYTES)
    except (ValueError, zlib.error):
        raise refuse("encodedList is not base64url of GZIP data") from None
    if inflate.unconsumed_tail:
        raise refuse(f"the status list is longer than {MAX_LIST_BYTES * 8:,} entries")
    return {i * 8 + j for i, byte in enumerate(bits) if byte for j in range(8) if byte & (0x80 >> j)}
