"""CE bases (§1(4)): accredit one, record the Department's decisions on it, read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from ce_ledger.domain.errors import Conflict, NotFound
from ce_ledger.domain.professional import Professional
from ce_ledger.domain.provider import (
    Provider,
    ProviderLevel,
    ProviderRegister,
    ProviderStatusChange,
    project_provider,
    provider_stream,
)
from ce_ledger.domain.values import ActivityKind, Channel, canonical_code
from ce_ledger.services.base import AggregateNotFoundError, IntegrityError, Store, retrying
from datetime import date


@dataclass(frozen=True)
class ProviderDecision:
    provider: Provider
    status: Literal["recorded", "duplicate"]


class Providers(Store):
    def accredit_provider(
        self, code: str, *, name: str, level: ProviderLevel, effective_on: date, decision_ref: str, by: str,
        channel: Channel = Channel.DIRECT,
    ) -> ProviderDecision:
        """Open a provider's record; the same accreditation again is a retry."""
        now, today = self.now()
        try:
            existing = self.provider(code)
        except NotFound:
            provider = Provider.accredit(
                code, name=name, level=level, effective_on=effective_on, decision_ref=decision_ref,
                by=by, now=now, today=today, channel=channel,
            )
            try:
                self.save(provider)
            except IntegrityError:
                existing = self.provider(code)  # accredited concurrently: judge it as a retry
            else:
                return ProviderDecision(provider, "recorded")
        if existing.same_accreditation(name, level, effective_on, decision_ref):
            return ProviderDecision(existing, "duplicate")
        raise Conflict("code", f"provider {code} is already accredited with other details")

    def change_provider_status(
        self, code: str, change: ProviderStatusChange, *, by: str, channel: Channel = Channel.DIRECT
    ) -> ProviderDecision:
        for attempt in retrying():
            with attempt:
                provider = self.provider(code)
                now, today = self.now()
                status = provider.change(change, by=by, now=now, today=today, channel=channel)
                if status == "recorded":
                    self.save(provider)
                return ProviderDecision(provider, status)
        raise AssertionError("unreachable")  # pragma: no cover

    def provider(self, code: str, version: int | None = None, *, copy: bool = True) -> Provider:
        try:
            return self.aggregate(provider_stream(code), project_provider, version, copy=copy)
        except AggregateNotFoundError:
            raise NotFound("code", f"no provider {code} is accredited in the ledger") from None

    def providers_of(self, record: Professional, versions: dict[UUID, int] | None = None) -> ProviderRegister:
        """The records of the providers whose certificates ``record`` holds: now, or at
        the given versions (a replay reads them as its verdict pinned them)."""
        register = ProviderRegister()
        typed = {a.recorded.provider_code for a in record.activities.values() if a.kind is ActivityKind.SPECIALTY}  # type: ignore[attr-defined]
        codes = {canonical_code(code) for code in typed}  # one spelling (reading 16)
        if versions is None:  # now: every one in one query
            now = self.aggregates_now([provider_stream(code) for code in sorted(codes)], project_provider)  # type: ignore[attr-defined]
            for code in sorted(codes):
                if provider_stream(code) in now:
                    register[code] = now[provider_stream(code)]
            return register
        for code in sorted(codes):
            stream = provider_stream(code)
            if versions is not None and stream not in versions:
                continue  # the verdict read no record of this provider: it had none then
            try:
                register[code] = self.provider(code, versions[stream] if versions else None, copy=False)
            except NotFound:
                continue
        return register
