"""Keeping the totals view current: catch up in batches, follow the log, rebuild.

A batch is one transaction: it reads the version's tracked position, takes the
ledger's next notifications after it, loads the rows they touch, applies them and
writes the rows with the new position. A crash at any point leaves either the
whole batch or none of it, so a restarted worker continues from its position with
no event counted twice or missed.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Literal
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    Notification,
    OperationalError,
    Tracking,
)
from eventsourcing.utils import get_topic
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ce_ledger import collector
from ce_ledger.application import Ledger
from ce_ledger.config import Settings
from ce_ledger.domain.events import (
    RECORD_EVENTS,
    ActivityKeyReserved,
    ActivityDecided,
    LedgerEvent,
    RegistrationCorrected,
)
from ce_ledger.domain.programme import ProgrammePlanned
from ce_ledger.domain.unit import UnitNamed
from ce_ledger.domain.verdicts import VerdictIssued
from ce_ledger.domain.professional import Activity
from ce_ledger.domain.provider import PROVIDER_EVENTS, Provider, ProviderDecided, project_provider, provider_stream
from ce_ledger.domain.values import canonical_code
from ce_ledger.rules.ruleset import RuleSet
from ce_ledger.storage import LogRow
from projections.rows import ActivityRow, Changes, RowUpdater, Providers
from projections.view import NoView, TotalsView, build_digest, tracking_name

_SKIP = {get_topic(ActivityKeyReserved)}  # key streams hold no credit
RECORD_TOPICS = [get_topic(cls) for cls in RECORD_EVENTS]
# A decision on a provider re-credits its certificates (§1(4)): the view follows those too.
# Programme plans feed the knowledge-update report (§2); the unit register gives units their names.
# Issued verdicts are the population a spot check draws from (audit/sampling.py).
FOLLOWED_TOPICS = RECORD_TOPICS + [
    get_topic(cls) for cls in (*PROVIDER_EVENTS, ProgrammePlanned, UnitNamed, VerdictIssued)
]
REBUILD_BATCH = 5000
# Rows of whole streams built in memory before they are inserted: what bounds a rebuild's memory
# (about 1 KB per activity), whatever the size of the log.
REBUILD_GROUP = 20_000
REBUILD_PARTS = 2  # the machines here have two cores
PARTITION_FROM = 50_000  # below this, starting processes costs more than it saves
# Past this many log rows a rebuild reads the log in position order, as the worker does (a flat
# cost a row at every size measured), instead of stream by stream: stream order is not the order
# rows lie on disk, and its cost per row grew with the store (67, 102, 240 µs a row at 0.5, 1.5 and
# 5 million rows). At 1.5 million rows position order already took 90 s against 102 (docs/scale.md).
LOG_ORDER_FROM = 1_000_000


def _retrying() -> Retrying:
    # Another worker (or the embedded catch-up in another thread) got the batch first,
    # or SQLite was busy: start the batch again from the position now recorded.
    return Retrying(
        retry=retry_if_exception_type((IntegrityError, OperationalError)),
        stop=stop_after_attempt(50),
        wait=wait_random_exponential(multiplier=0.005, max=0.5),
        reraise=True,
    )


def _build_part_process(settings: Settings, version: int, end: int, part: int, parts: int, messages: Any) -> None:
    """A helper process of a partitioned rebuild: its own connections, its share of streams."""
    from ce_ledger.bootstrap import build_ledger, build_read_side

    # The parent has created every table; helpers creating them "if not exists" at the
    # same moment can collide in PostgreSQL's catalogue.
    os.environ["CREATE_TABLE"] = "n"
    try:
        ledger = build_ledger(settings)
        read = build_read_side(settings, ledger, create_tables=False)
        applied = read.projection.build_part(version, end, part, parts, lambda p: messages.put(("progress", part, p)))
        ledger.close()
        read.close()
        messages.put(("done", part, applied))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        messages.put(("error", part, traceback.format_exc()))


class TotalsProjection:
    """Feeds the view from the ledger's log: it reads the log (through the storage adapter)
    and decodes it with the ledger's mapper, and never loads an aggregate through the
    service layer. What a later event needs of an earlier one, the view's rows keep: the
    credit, and where the activity's own events are in the log (stream and versions)."""

    def __init__(
        self, ledger: Ledger, view: TotalsView, rule_set: RuleSet, *, batch_size: int = 1000,
        settings: Settings | None = None,
    ):
        self.log = ledger.recorder  # the storage adapter: log pages, events by key, subscriptions
        self.mapper = ledger.mapper
        self.view = view
        self.rule_set = rule_set
        self.updater = RowUpdater(rule_set, Providers(self._provider))
        self.batch_size = batch_size
        self.settings = settings  # lets a rebuild start helper processes
        self._lock = threading.Lock()  # one catch-up at a time in this process

    # -- versions -------------------------------------------------------------------------

    @property
    def _build_digest(self) -> str:
        return build_digest(self.rule_set.digest)

    def current_version(self) -> int:
        return self.view.current()[0]

    def _provider(self, code: str) -> Provider | None:
        """A CE base's record, folded from its own stream in the log (a few events)."""
        stored = self.log.select_events(provider_stream(code))
        return project_provider(None, (self.mapper.to_domain_event(e) for e in stored))

    def ensure_current(self, *, rebuild_now: bool = True) -> int:
        """Build a first version if there is none (an empty store makes an empty view), and
        a new one if the current version credits by another rule-set than the configured one
        (or was built by other code). With ``rebuild_now=False`` (a server starting) the current
        version keeps serving and ``needs_rebuild`` says so: ``ce-ledger serve`` starts the rebuild
        beside it, and readers switch when it is done.

        Server processes started together (`serve --workers 2`) all come here at once; on
        SQLite the losers of the race for the write lock are told "database is locked" at
        once, so each try starts again, and finds the winner's version when it is there.
        """
        for attempt in _retrying():
            with attempt:
                try:
                    version, rule_set_id = self.view.current()
                    if self.needs_rebuild():
                        return self.rebuild()[0] if rebuild_now else version
                    return version
                except NoView:
                    version = self.view.create_version(self.rule_set.id, self._build_digest)
                    self.catch_up(version)
                    self.view.switch_to(version)
                    return version
        raise AssertionError("unreachable")  # pragma: no cover

    def needs_rebuild(self) -> bool:
        """Whether the current version credits by another rule-set, or was built by other code."""
        _, rule_set_id = self.view.current()
        return rule_set_id != self.rule_set.id or self.view.built_with() != self._build_digest

    def rebuild(
        self, progress: Callable[[int, int], None] = lambda done, total: None, *, parts: int | None = None,
        keep_previous: bool = False, order: Literal["streams", "log"] | None = None,
    ) -> tuple[int, int]:
        """Build a new version from position zero beside the current one, then switch.

        The new version is built in memory and bulk-inserted: nobody reads it before the
        switch, so it needs no batch-by-batch durability. Streams are independent, so on
        PostgreSQL a large log is built in ``parts`` processes, each taking the records
        whose id falls in its share. The position is written last: a crash leaves an
        unused version behind, never a current one. Memory holds one group of streams
        (``build_part``). Once the new version serves, the retired ones are dropped (all but the
        previous one with ``keep_previous``, for a rollback), after the time readers in other
        processes keep the current version cached.

        A large log (``order="log"``, the default past LOG_ORDER_FROM rows) is read in position
        order instead and applied batch by batch into the new version, as the worker keeps a view
        current: each batch commits its rows and its position, memory holds one batch.
        """
        version = self.view.create_version(self.rule_set.id, self._build_digest)
        end = self.log.log_end()
        if order is None:
            order = "log" if end > LOG_ORDER_FROM and parts is None else "streams"
        if order == "log":  # each batch commits its rows and the version's position
            applied = self.catch_up(version, lambda position: progress(min(position, end), end))
        else:
            if parts is None:
                big = self.log.partitionable and end > PARTITION_FROM and self.settings is not None
                parts = REBUILD_PARTS if big else 1
            if parts == 1:
                applied = self.build_part(version, end, 0, 1, lambda position: progress(position, end))
            else:
                applied = self._build_in_processes(version, end, parts, progress)
            self.view.set_position(Tracking(tracking_name(version), end))
        self.view.switch_to(version)
        applied += self.catch_up(version)  # what arrived while building
        time.sleep(getattr(self.view, "current_seconds", 0))  # other processes' readers move over
        self.view.drop_retired(keep=1 if keep_previous else 0)
        return version, applied

    def build_part(self, version: int, end: int, part: int, parts: int, progress: Callable[[int], None]) -> int:
        """Build one share of a new version up to ``end`` and insert its rows.

        The log is read stream by stream (every row up to ``end``), and a group of whole
        streams is settled and inserted once it holds REBUILD_GROUP rows: every row of the
        view belongs to one stream (a person's, a verdict's, a unit's, a programme's), and an
        activity is credited by its provider's standing as recorded now, whatever the order.
        So memory holds one group, not the log."""
        changes, applied, in_group, pending, stream = Changes(), 0, 0, [], None
        # Building a view in memory makes many long-lived objects and no cycles; the collector
        # would rescan them again and again (a third of the rebuild's time).
        with collector.paused():
            for row in self.log.stream_rows(end, FOLLOWED_TOPICS, REBUILD_BATCH, (part, parts)):
                if row.originator_id != stream:  # a group ends only between streams
                    stream = row.originator_id
                    if len(pending) >= REBUILD_BATCH:
                        in_group += self._decode_into(changes, pending)
                        pending = []
                    if in_group >= REBUILD_GROUP:
                        self.updater.settle(changes)
                        self.view.insert_all(version, changes)
                        applied, in_group, changes = applied + in_group, 0, Changes()
                        # Stream ids are uniform (UUIDs from hashes and random), so the share of
                        # the id space passed is the share of the work done.
                        progress(end * (stream.int >> 64) // 2**64)
                pending.append(row)
            in_group += self._decode_into(changes, pending)
            self.updater.settle(changes)
            self.view.insert_all(version, changes)
        progress(end)
        return applied + in_group

    def _build_in_processes(self, version: int, end: int, parts: int, progress: Callable[[int, int], None]) -> int:
        """Share 0 is built here while helper processes build the others."""
        context = multiprocessing.get_context("spawn")
        messages = context.Queue()
        helpers = [
            context.Process(target=_build_part_process, args=(self.settings, version, end, part, parts, messages))
            for part in range(1, parts)
        ]
        for helper in helpers:
            helper.start()
        positions, applied, done = [0] * parts, 0, 0

        def drain(block: bool) -> None:
            nonlocal applied, done
            while True:
                try:
                    kind, part, value = messages.get(block=block)
                except queue.Empty:
                    return
                if kind == "error":
                    raise RuntimeError(f"rebuild part {part} failed:\n{value}")
                if kind == "done":
                    applied, done, positions[part] = applied + value, done + 1, end
                else:
                    positions[part] = value
                progress(min(positions), end)
                if block:
                    return

        def mine(position: int) -> None:
            positions[0] = position
            drain(block=False)

        try:
            applied += self.build_part(version, end, 0, parts, mine)
            positions[0] = end
            while done < len(helpers):
                drain(block=True)
        finally:
            for helper in helpers:
                helper.join(timeout=5)
                if helper.is_alive():
                    helper.kill()
        return applied

    # -- catching up ----------------------------------------------------------------------

    def follow_save(self, position: int) -> None:
        """The ledger's save subscriber (wired in the composition root when the view is
        kept inline): apply everything up to and including ``position``."""
        self.catch_up()

    def catch_up(self, version: int | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything recorded so far; returns how many events were applied."""
        with self._lock:
            version = version or self.current_version()
            applied = 0
            while True:
                position, n, at_end = self._apply_next(version)
                if position is None:
                    return applied
                applied += n
                if progress:
                    progress(position)
                if at_end:  # the page reached the log's end as read: no need to look again
                    return applied

    def _page(
        self, position: int, limit: int, *, end: int | None = None, part: tuple[int, int] = (0, 1)
    ) -> tuple[Sequence[LogRow | Notification], int]:
        """The next record events after ``position``, and the position they bring us to.

        Key-reservation rows are filtered out in the database. When the page is not
        full, every row up to the log's end (read first) has been seen, so the
        position moves to that end, past any trailing key rows, and a reader waiting
        for one of those positions is not left waiting.
        """
        end = self.log.log_end() if end is None else end
        if end <= position:
            return [], position
        # A bounded id range keeps the plan an index range scan: with the topic filter
        # alone PostgreSQL may sort everything after ``position`` for every page.
        stop = min(end, position + 2 * limit * part[1])
        notifications = self.log.log_page(position, stop, FOLLOWED_TOPICS, limit, part)
        return notifications, notifications[-1].id if len(notifications) == limit else stop

    def _apply_next(self, version: int) -> tuple[int | None, int, bool]:
        """One batch; returns the new position (None when there was nothing to do), the count,
        and whether it reached the end of the log as read."""
        for attempt in _retrying():
            with attempt:
                with self.view.transaction(commit=True) as c:
                    self.view.lock(c, version)
                    position = self.view.position_in(c, tracking_name(version))
                    end = self.log.log_end()
                    notifications, last = self._page(position, self.batch_size, end=end)
                    if last == position:
                        return None, 0, True
                    self._apply(c, version, notifications, last)
                    return last, len(notifications), last >= end
        raise AssertionError("unreachable")  # pragma: no cover

    def apply_notifications(self, version: int, notifications: Sequence[LogRow | Notification]) -> int:
        """Apply notifications received from a subscription, skipping any already applied."""
        for attempt in _retrying():
            with attempt:
                with self.view.transaction(commit=True) as c:
                    self.view.lock(c, version)
                    position = self.view.position_in(c, tracking_name(version))
                    fresh = [n for n in notifications if n.id > position]
                    if fresh:
                        self._apply(c, version, fresh, fresh[-1].id)
                    return len(fresh)
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply(self, c: Any, version: int, notifications: Sequence[LogRow | Notification], last: int) -> None:
        changes = Changes()
        decoded = self._decode(notifications)
        decisions = [event for event, _, _ in decoded if isinstance(event, ActivityDecided)]
        pids = {str(event.originator_id) for event, _, _ in decoded if isinstance(event, RECORD_EVENTS)}
        aids = {str(e.activity_id) for e in decisions}
        recredit = self._provider_activities(c, version, decoded)
        pids |= {row.professional_id for row in recredit}
        aids |= {row.activity_id for row in recredit}
        corrected = {str(e.originator_id) for e, _, _ in decoded if isinstance(e, RegistrationCorrected)}
        if corrected:  # their teaching rows are credited again (reading 11)
            for row in self.view.teaching_of(c, version, corrected):
                changes.activities.setdefault(row.activity_id, row)
                changes.teaching_of.setdefault(row.professional_id, []).append(row.activity_id)
                aids.add(row.activity_id)
        self.view.prefetch(c, version, changes, pids, aids)
        self._read_activities([changes.activities[a] for a in aids if a in changes.activities])
        for event, topic, position in decoded:
            self.updater.apply(changes, event, topic, position)
        changes.dirty_activities.update(row.activity_id for row in recredit)
        self.updater.settle(changes)
        self.view.write(c, version, changes, Tracking(tracking_name(version), last))

    def _provider_activities(self, c: Any, version: int, decoded: list[tuple[LedgerEvent, str, int]]) -> list[ActivityRow]:
        """A decision on a provider changes what its certificates credit: find them."""
        codes = {canonical_code(event.code) for event, _, _ in decoded if isinstance(event, ProviderDecided)}
        if not codes or self.updater.providers is None:
            return []
        self.updater.providers.forget(codes)
        return self.view.provider_activities(c, version, codes)

    def _read_activities(self, rows: list[ActivityRow]) -> None:
        """Activities recorded in an earlier batch that this batch decides on, voids or
        re-credits: their events are read from the log where their rows say they are, in
        one query, whatever the length of the record."""
        wanted = [row for row in rows if row.decoded is None and row.recorded_state is None]
        keys = [
            (UUID(row.professional_id), v)
            for row in wanted
            for v in (row.recorded_version, row.decision_version, row.void_version)
            if v is not None
        ]
        found = self.log.events_at(keys)
        event = self.mapper.to_domain_event
        for row in wanted:
            pid = UUID(row.professional_id)

            def at(version: int | None) -> Any:
                return None if version is None else event(found[pid, version])

            row.decoded = Activity(at(row.recorded_version), at(row.decision_version), at(row.void_version))

    def _decode_into(self, changes: Changes, notifications: Sequence[LogRow | Notification]) -> int:
        decoded = self._decode(notifications)
        for event, topic, position in decoded:
            self.updater.apply(changes, event, topic, position)
        return len(decoded)

    def _decode(self, notifications: Sequence[LogRow | Notification]) -> list[tuple[LedgerEvent, str, int]]:
        """Each event with its topic and its place in the log (the inspection's rows keep it)."""
        to_event = self.mapper.to_domain_event
        return [(to_event(n), n.topic, n.id) for n in notifications if n.topic not in _SKIP]  # type: ignore[arg-type]

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
                subscription = self.log.subscribe(gt=self.view.position(version))
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
