"""Keeping the totals view current: catch up in batches, follow the log, rebuild.

A batch is one transaction: it reads the version's tracked position, takes the
ledger's next notifications after it, loads the rows they touch, applies them and
writes the rows with the new position. A crash at any point leaves either the
whole batch or none of it, so a restarted worker continues from its position with
no event counted twice or missed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Notification, OperationalError, Tracking
from eventsourcing.utils import get_topic
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ce_ledger.application import Ledger
from ce_ledger.domain.events import ActivityKeyReserved, DecisionRecorded, LedgerEvent
from ce_ledger.rules.ruleset import RuleSet
from projections.rows import Changes, Projector
from projections.view import NoView, TotalsView, tracking_name

_SKIP = {get_topic(ActivityKeyReserved)}  # key streams hold no credit


def _retrying() -> Retrying:
    # Another worker (or the embedded catch-up in another thread) got the batch first,
    # or SQLite was busy: start the batch again from the position now recorded.
    return Retrying(
        retry=retry_if_exception_type((IntegrityError, OperationalError)),
        stop=stop_after_attempt(50),
        wait=wait_random_exponential(multiplier=0.005, max=0.5),
        reraise=True,
    )


class TotalsProjection:
    def __init__(self, ledger: Ledger, view: TotalsView, rule_set: RuleSet, *, batch_size: int = 1000):
        self.ledger = ledger
        self.view = view
        self.rule_set = rule_set
        self.projector = Projector(rule_set)
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one catch-up at a time in this process
        # The log keeps encoded state; keep it as it is unless a cipher or compressor hides it.
        mapper = ledger.mapper
        self._state_is_json = mapper.cipher is None and mapper.compressor is None

    # -- versions -------------------------------------------------------------------------

    def current_version(self) -> int:
        return self.view.current()[0]

    def ensure_current(self) -> int:
        """Build a first version if there is none (an empty store makes an empty view)."""
        try:
            return self.current_version()
        except NoView:
            version = self.view.create_version(self.rule_set.id, self.rule_set.digest)
            self.catch_up(version)
            self.view.switch_to(version)
            return version

    def rebuild(self, progress: Callable[[int, int], None] = lambda done, total: None) -> tuple[int, int]:
        """Build a new version from position zero beside the current one, then switch."""
        version = self.view.create_version(self.rule_set.id, self.rule_set.digest)
        total = self.ledger.position()
        applied = self.catch_up(version, progress=lambda done: progress(done, total))
        self.view.switch_to(version)
        applied += self.catch_up(version)  # what arrived while building
        return version, applied

    # -- catching up ----------------------------------------------------------------------

    def catch_up(self, version: int | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything recorded so far; returns how many notifications were applied."""
        with self._lock:
            version = version or self.current_version()
            applied = 0
            while True:
                n = self._apply_next(version)
                if n == 0:
                    return applied
                applied += n
                if progress:
                    progress(self.view.position(version))

    def _apply_next(self, version: int) -> int:
        for attempt in _retrying():
            with attempt:
                with self.view.transaction(commit=True) as c:
                    self.view.lock(c, version)
                    position = self.view._max_tracking_id(tracking_name(version), c) or 0  # type: ignore[attr-defined]
                    notifications = self.ledger.recorder.select_notifications(
                        start=position, limit=self.batch_size, inclusive_of_start=False
                    )
                    if notifications:
                        self._apply(c, version, notifications)
                    return len(notifications)
        raise AssertionError("unreachable")  # pragma: no cover

    def apply_notifications(self, version: int, notifications: Sequence[Notification]) -> int:
        """Apply notifications received from a subscription, skipping any already applied."""
        for attempt in _retrying():
            with attempt:
                with self.view.transaction(commit=True) as c:
                    self.view.lock(c, version)
                    position = self.view._max_tracking_id(tracking_name(version), c) or 0  # type: ignore[attr-defined]
                    fresh = [n for n in notifications if n.id > position]
                    if fresh:
                        self._apply(c, version, fresh)
                    return len(fresh)
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply(self, c: Any, version: int, notifications: Sequence[Notification]) -> None:
        decoded: list[tuple[LedgerEvent, str, str]] = []
        pids: set[str] = set()
        aids: set[str] = set()
        for n in notifications:
            if n.topic in _SKIP:
                continue
            event = self.ledger.mapper.to_domain_event(n)
            state = n.state.decode() if self._state_is_json else event.model_dump_json()
            decoded.append((event, state, n.topic))
            pids.add(str(event.originator_id))
            if isinstance(event, DecisionRecorded):
                aids.add(str(event.activity_id))
        changes = Changes()
        self.view.prefetch(c, version, changes, pids, aids)
        for event, state, topic in decoded:
            self.projector.apply(changes, event, state, topic)
        self.view.write(c, version, changes, Tracking(tracking_name(version), notifications[-1].id))

    # -- following the log (PostgreSQL) ---------------------------------------------------------

    def follow(self, stop: threading.Event, idle: float = 0.5) -> None:
        """Follow the log until ``stop`` is set.

        On PostgreSQL the library's subscription (LISTEN/NOTIFY) delivers new
        notifications; a reader thread queues them and this loop applies whatever has
        queued up as one batch. On SQLite, which has no subscriptions, it polls.
        A rebuild that switches versions is noticed and followed.
        """
        while not stop.is_set():
            version = self.current_version()
            self.catch_up(version)
            try:
                subscription = self.ledger.recorder.subscribe(gt=self.view.position(version))
            except NotImplementedError:
                self._poll(version, stop, idle)
            else:
                self._drain(version, subscription, stop, idle)

    def _poll(self, version: int, stop: threading.Event, idle: float) -> None:
        while not stop.wait(idle):
            if self.current_version() != version:
                return
            self.catch_up(version)

    def _drain(self, version: int, subscription: Any, stop: threading.Event, idle: float) -> None:
        inbox: queue.Queue[Notification] = queue.Queue(maxsize=10 * self.batch_size)

        def read() -> None:
            try:
                for notification in subscription:
                    inbox.put(notification)
            except Exception:  # noqa: BLE001 - the loop below notices the thread ended
                pass

        with subscription:
            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            while not stop.is_set() and reader.is_alive():
                try:
                    batch = [inbox.get(timeout=idle)]
                except queue.Empty:
                    if self.current_version() != version:
                        break
                    continue
                while len(batch) < self.batch_size:
                    try:
                        batch.append(inbox.get_nowait())
                    except queue.Empty:
                        break
                with self._lock:
                    self.apply_notifications(version, batch)
            subscription.stop()
