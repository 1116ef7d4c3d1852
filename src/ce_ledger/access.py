"""Bearer tokens and roles.

A token is a long random secret shown once; the ledger keeps only its SHA-256 (a
slow password hash buys nothing for 256 random bits and cost a peer 50 ms a request).
Issuing is an event on the token's own stream in a small event-sourced application
of its own, so who was given which rights stays on record like everything else.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.application import Application

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Code, Text, Value
from ce_ledger.persistence import PYDANTIC_ENV

TOKEN_NAMESPACE = UUID("5d0c1f43-2a7e-5b0e-9a11-7c3e4f6a8b20")
TOKEN_PREFIX = "cel_"


class Role(StrEnum):
    PLATFORM = "platform"
    EMPLOYER = "employer"
    COMMITTEE = "committee"
    AUDITOR = "auditor"
    PROFESSIONAL = "professional"


class Principal(Value):
    """Who is asking: a role, bound to a unit (employer) or a record (professional)."""

    role: Role
    name: Text
    unit: Code | None = None
    professional_id: UUID | None = None

    @property
    def actor(self) -> str:
        """How decisions name their author: role, binding and the token's name."""
        binding = self.unit or (str(self.professional_id) if self.professional_id else None)
        return ":".join(x for x in (self.role.value, binding, self.name) if x)


class TokenIssued(LedgerEvent):
    principal: Principal


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stream(token_hash: str) -> UUID:
    return uuid5(TOKEN_NAMESPACE, token_hash)


class AccessRegistry(Application[UUID]):
    name = "access"
    env: ClassVar[dict[str, str]] = PYDANTIC_ENV
    # A lookup per request would cost a query. Only known tokens are cached: a token
    # issued a moment ago works at once. (Tokens cannot be revoked yet.)
    CACHE_SECONDS = 300.0

    def __init__(self, env: dict[str, str] | None = None):
        super().__init__(env)
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def issue(self, principal: Principal, *, by: str = "direct", channel: str = "direct") -> str:
        """A new token for ``principal``; the event names who issued it (``by``) and how."""
        if principal.role is Role.EMPLOYER and not principal.unit:
            raise ValueError("unit: an employer token is bound to a unit (--unit)")
        if principal.role is Role.PROFESSIONAL and not principal.professional_id:
            raise ValueError("professional: a professional token is bound to one record (--professional)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        self.save(
            TokenIssued.next_in_chain(
                _stream(digest), recorded_at=datetime.now(UTC), principal=principal, caused_by=by, channel=channel
            )
        )
        return token

    def cached(self, token: str) -> Principal | None:
        """The principal if the token was looked up lately; never reads the store."""
        hit = self._cache.get(hashlib.sha256(token.encode()).hexdigest())
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def principal(self, token: str) -> Principal | None:
        return self.principal_by_digest(token_digest(token))

    def principal_by_digest(self, digest: str) -> Principal | None:
        """By the token's SHA-256: what a workbench session keeps instead of the token."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        events = list(self.events.get(_stream(digest), limit=1))
        if not events:
            return None
        principal = events[0].principal
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self.CACHE_SECONDS, principal)
        return principal
