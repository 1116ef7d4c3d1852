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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

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
    PROVIDER = "provider"  # a CE base (继续教育基地): files its certificates (备案)


class Principal(Value):
    """Who is asking: a role, bound to a unit (employer) or a record (professional)."""

    role: Role
    name: Text
    unit: Code | None = None
    professional_id: UUID | None = None
    provider: Code | None = None  # the CE base a provider token is bound to

    @property
    def actor(self) -> str:
        """How decisions name their author: role, binding and the token's name."""
        binding = self.unit or (str(self.professional_id) if self.professional_id else None) or self.provider
        return ":".join(x for x in (self.role.value, binding, self.name) if x)


class TokenIssued(LedgerEvent):
    principal: Principal
    expires_at: datetime | None = None  # none: until revoked (tokens issued before expiry existed, platforms)


class TokenRevoked(LedgerEvent):
    reason: str


class TokenUsed(LedgerEvent):
    """The token was used on this day: recorded once a day at most (on its first use that day), so
    `tokens list` can say when a token was last used, and one nobody uses can be revoked."""


class SessionStarted(LedgerEvent):
    """A workbench sign-in: the session stands for the token until it ends or the token does."""

    token_digest: str
    expires_at: datetime


class SessionEnded(LedgerEvent):
    """Signed out: the session's cookie is refused from now on, wherever it was copied."""


class LookupRecorded(LedgerEvent):
    """Someone looked a person up by ID number: who, which record (its keyed id, never the
    number), and whether it was one they may see. Lookups are how numbers get guessed."""

    professional_id: UUID
    found: bool


@dataclass(frozen=True)
class TokenInfo:
    """What ``ce-ledger tokens list`` shows of a token (never the token)."""

    id: UUID
    principal: Principal
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used: datetime | None = None  # the first use on the last day it was used

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "valid"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stream(token_hash: str) -> UUID:
    return uuid5(TOKEN_NAMESPACE, token_hash)


def _session_stream(session_id: str) -> UUID:
    return uuid5(TOKEN_NAMESPACE, f"session:{session_id}")


# People's tokens expire unless told otherwise; a platform's serves a system and lives until revoked.
DEFAULT_LIFETIME = {Role.PLATFORM: None}
PEOPLE_LIFETIME = timedelta(days=30)


class AccessRegistry(Application[UUID]):
    name = "access"
    env: ClassVar[dict[str, str]] = PYDANTIC_ENV
    # A lookup per request would cost a query, so a token's standing is kept this long in
    # each process: a revoked token (or an ended session) is refused by every server process
    # within this many seconds. Only known tokens are kept: a token issued a moment ago works at once.
    CACHE_SECONDS = 5.0

    def __init__(self, env: dict[str, str] | None = None):
        super().__init__(env)
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def issue(
        self, principal: Principal, *, by: str = "direct", channel: str = "direct",
        expires_in: timedelta | None | str = "default",
    ) -> str:
        """A new token for ``principal``; the event names who issued it (``by``) and how.
        ``expires_in``: by default 30 days for people, none for a platform."""
        if principal.role is Role.EMPLOYER and not principal.unit:
            raise ValueError("unit: an employer token is bound to a unit (--unit)")
        if principal.role is Role.PROFESSIONAL and not principal.professional_id:
            raise ValueError("professional: a professional token is bound to one record (--professional)")
        if principal.role is Role.PROVIDER and not principal.provider:
            raise ValueError("provider: a provider token is bound to one CE base (--provider)")
        if expires_in == "default":
            expires_in = DEFAULT_LIFETIME.get(principal.role, PEOPLE_LIFETIME)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        self.save(
            TokenIssued.next_in_chain(
                _stream(token_digest(token)), recorded_at=now, principal=principal, caused_by=by, channel=channel,
                expires_at=now + expires_in if isinstance(expires_in, timedelta) else None,
            )
        )
        return token

    def revoke(self, token_id: UUID, *, reason: str, by: str, channel: str = "direct") -> TokenInfo:
        """Refuse a token from now on (within ``CACHE_SECONDS`` in every process)."""
        head = list(self.events.get(token_id, desc=True, limit=1))
        if not head or not isinstance(head[0], (TokenIssued, TokenUsed, TokenRevoked)):
            raise KeyError(f"no token {token_id}")
        if not isinstance(head[0], TokenRevoked):
            self.save(TokenRevoked.next_in_chain(token_id, head[0].link, recorded_at=datetime.now(UTC), reason=reason,
                                                 caused_by=by, channel=channel))
        with self._lock:
            self._cache.clear()
        return self._info(token_id, list(self.events.get(token_id)))

    def tokens(self) -> list[TokenInfo]:
        """Every token ever issued, oldest first (the registry is small: a page at a time)."""
        streams: dict[UUID, list[Any]] = {}
        start = None
        topics = [get_topic(TokenIssued), get_topic(TokenRevoked), get_topic(TokenUsed)]  # not sessions, lookups
        while True:
            page = self.recorder.select_notifications(start=start, limit=1000, topics=topics)
            for n in page:
                streams.setdefault(n.originator_id, []).append(self.mapper.to_domain_event(n))
            if len(page) < 1000:
                break
            start = page[-1].id + 1
        found = [self._info(sid, events) for sid, events in streams.items() if isinstance(events[0], TokenIssued)]
        return sorted(found, key=lambda t: t.issued_at)

    @staticmethod
    def _info(token_id: UUID, events: list[Any]) -> TokenInfo:
        issued = events[0]
        revoked = next((e for e in events if isinstance(e, TokenRevoked)), None)
        used = [e.recorded_at for e in events if isinstance(e, TokenUsed)]
        return TokenInfo(token_id, issued.principal, issued.recorded_at, issued.expires_at,
                         revoked.recorded_at if revoked else None, max(used, default=None))

    # -- lookups ---------------------------------------------------------------------------

    def record_lookup(self, professional_id: UUID, *, found: bool, by: str, channel: str) -> None:
        self.save(LookupRecorded.next_in_chain(uuid4(), recorded_at=datetime.now(UTC), professional_id=professional_id,
                                               found=found, caused_by=by, channel=channel))

    def lookups(self, limit: int = 1000) -> list[LookupRecorded]:
        """The latest lookups, newest first (at most ``limit``)."""
        found: list[LookupRecorded] = []
        end = self.recorder.max_notification_id() or 0
        while end > 0 and len(found) < limit:
            start = max(1, end - 999)
            page = self.recorder.select_notifications(start=start, limit=1000, stop=end,
                                                      topics=[get_topic(LookupRecorded)])
            found += [self.mapper.to_domain_event(n) for n in reversed(page)]
            end = start - 1
        return found[:limit]

    # -- workbench sessions --------------------------------------------------------------

    def start_session(self, digest: str, lifetime: timedelta, *, by: str) -> str:
        session_id = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        self.save(SessionStarted.next_in_chain(_session_stream(session_id), recorded_at=now, token_digest=digest,
                                               expires_at=now + lifetime, caused_by=by, channel="workbench"))
        return session_id

    def end_session(self, session_id: str, *, by: str) -> None:
        stream = _session_stream(session_id)
        head = list(self.events.get(stream, desc=True, limit=1))
        if head and isinstance(head[0], SessionStarted):
            self.save(SessionEnded.next_in_chain(stream, head[0].link, recorded_at=datetime.now(UTC),
                                                 caused_by=by, channel="workbench"))
        with self._lock:
            self._cache.pop(f"session:{session_id}", None)

    def session_principal(self, session_id: str) -> Principal | None:
        """The principal a live session stands for: None once signed out, expired, or its token is."""
        key = f"session:{session_id}"
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and hit[0] > now:
            digest = hit[1]
        else:
            events = list(self.events.get(_session_stream(session_id)))
            live = (len(events) == 1 and isinstance(events[0], SessionStarted)
                    and events[0].expires_at > datetime.now(UTC))
            digest = events[0].token_digest if live else None
            with self._lock:
                self._cache[key] = (now + self.CACHE_SECONDS, digest)
        return self.principal_by_digest(digest) if digest else None

    def _note_use(self, stream: UUID, head: Any) -> None:
        """Record the day's first use (a token is looked up again every CACHE_SECONDS, not per request)."""
        now = datetime.now(UTC)
        if isinstance(head, TokenUsed) and head.recorded_at.date() == now.date():
            return
        try:
            self.save(TokenUsed.next_in_chain(stream, head.link, recorded_at=now, caused_by="token", channel="api"))
        except IntegrityError:
            pass  # another process recorded today's use (or a revocation) first

    def cached(self, token: str) -> Principal | None:
        """The principal if the token was looked up lately; never reads the store."""
        hit = self._cache.get(hashlib.sha256(token.encode()).hexdigest())
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def principal(self, token: str) -> Principal | None:
        return self.principal_by_digest(token_digest(token))

    def principal_by_digest(self, digest: str) -> Principal | None:
        """By the token's SHA-256: None for an unknown, revoked or expired token."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        # The first event (issued) and the last (revoked, if it is; else the latest day of use):
        # two rows however long the token has been in use.
        stream = _stream(digest)
        events = list(self.events.get(stream, limit=1))
        principal = None
        if events and isinstance(events[0], TokenIssued):
            head = list(self.events.get(stream, desc=True, limit=1))[0]
            info = self._info(stream, events + ([head] if head.originator_version != events[0].originator_version else []))
            principal = info.principal if info.state == "valid" else None
            if principal is not None:
                self._note_use(stream, head)
        keep = self.CACHE_SECONDS
        if principal is not None and info.expires_at is not None:  # kept no longer than the token lives
            keep = min(keep, (info.expires_at - datetime.now(UTC)).total_seconds())
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + keep, principal)
        return principal
