"""The library's repository with a cache that is safe to share between threads.

The library's cached ``Repository.get`` fast-forwards a cached aggregate in place under
a lock, then copies it for the caller *after* releasing the lock: a second thread
fast-forwarding the same record meanwhile made the copy fail ("dictionary changed
size during iteration"; found by two server processes and twelve client threads).
Here a cached aggregate is never changed once cached: bringing it up to date builds a
new one from a copy and replaces the cache entry, so readers may share it and
commands copy it at will.

Its fast-forward locks are private members of the library: this is the one module
that uses them, and the exact library version is pinned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository

A = TypeVar("A")
Projector = Callable[[Any, Iterable[Any]], Any]


class SharedCacheRepository(Repository[UUID]):
    def get_shared(self, aggregate_id: UUID, projector: Projector, version: int | None = None) -> Any:
        """The aggregate now (or at ``version``), shared with other readers: do not change it."""
        cache = self.cache
        if cache is None or version is not None:
            return self.get(aggregate_id, version=version, projector_func=projector)  # built afresh
        lock = self._use_fastforward_lock(aggregate_id)
        try:
            with lock:
                try:
                    cached = cache.get(aggregate_id)
                except KeyError:
                    cached = None
                new_events = list(self.event_store.get(aggregate_id, gt=cached.version if cached is not None else None))
                if new_events or cached is None:
                    cached = projector(deepcopy(cached) if cached is not None else None, new_events)
                    if cached is None:
                        raise AggregateNotFoundError(aggregate_id)
                    cache.put(aggregate_id, cached)
        finally:
            self._disuse_fastforward_lock(aggregate_id)
        return cached

    def cached(self, aggregate_id: UUID) -> Any | None:
        """The cached aggregate, if any, as it was last brought up to date (shared)."""
        if self.cache is None:
            return None
        try:
            return self.cache.get(aggregate_id)
        except KeyError:
            return None

    def remember(self, aggregate_id: UUID, aggregate: Any) -> None:
        """Cache an aggregate the caller will not change again."""
        if self.cache is not None:
            self.cache.put(aggregate_id, aggregate)
