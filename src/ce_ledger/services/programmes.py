"""Programmes of the knowledge-update project (§2): plan one, read one, check a certificate's."""

from __future__ import annotations

from ce_ledger.domain.details import ActivityDetails, SpecialtyCredit
from ce_ledger.domain.errors import Conflict, InvalidInput, NotFound
from ce_ledger.domain.programme import Programme, ProgrammePlanned, programme_stream
from ce_ledger.domain.values import Channel
from ce_ledger.services.base import Events, IntegrityError, Store

PLANS_KEPT = 4096


class Programmes(Store):
    def plan_programme(
        self, programme: Programme, *, by: str, channel: Channel = Channel.DIRECT
    ) -> tuple[ProgrammePlanned, bool]:
        """Record a programme's plan; returns it and whether it is new (the same plan again is a retry)."""
        try:
            return self._same_plan(self.programme(programme.code), programme), False
        except NotFound:
            pass
        try:
            self.provider(programme.provider_code, copy=False)  # type: ignore[attr-defined]
        except NotFound:
            raise InvalidInput(
                "provider_code", f"no provider {programme.provider_code} is accredited: accredit it first"
            ) from None
        now, _ = self.now()
        planned = ProgrammePlanned.next_in_chain(
            programme_stream(programme.code), recorded_at=now, planned_by=by, caused_by=by, channel=channel,
            **programme.model_dump(),
        )
        try:
            self.save(Events([planned]))
        except IntegrityError:  # planned concurrently: judge it as a retry
            return self._same_plan(self.programme(programme.code), programme), False
        return planned, True

    @staticmethod
    def _same_plan(found: ProgrammePlanned, programme: Programme) -> ProgrammePlanned:
        if found.programme() != programme:
            raise Conflict("code", f"programme {programme.code} is already planned with other details")
        return found

    def programme(self, code: str) -> ProgrammePlanned:
        # A plan is one immutable event: once read it is kept (a bounded number of them;
        # a miss is not kept, the programme may be planned a moment later).
        cache: dict[str, ProgrammePlanned] = self.__dict__.setdefault("_plans", {})
        found = cache.get(code)
        if found is None:
            found = self.first(programme_stream(code))  # type: ignore[assignment]
            if found is None:
                raise NotFound("programme_code", f"no programme {code} is planned")
            if len(cache) >= PLANS_KEPT:
                cache.pop(next(iter(cache)))
            cache[code] = found
        return found

    def check_programme(self, details: ActivityDetails) -> None:
        """A certificate that names a programme must name one that exists, run by its issuer."""
        if not isinstance(details, SpecialtyCredit) or details.programme_code is None:
            return
        try:
            programme = self.programme(details.programme_code)
        except NotFound as e:
            raise InvalidInput("programme_code", e.rule) from None
        if programme.provider_code != details.provider_code:
            raise InvalidInput(
                "programme_code",
                f"programme {programme.code} is run by provider {programme.provider_code}, "
                f"not {details.provider_code}",
            )
