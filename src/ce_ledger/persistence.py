"""Adapter between the record's pydantic events and the library's stored events.

Follows the library's ``examples/aggregate7``: the event's own JSON is the stored
state, and decoding is a single ``model_validate_json`` (parse and validate in one
pass in pydantic-core) — the hot path of every load and every projection.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ValidationError


class PydanticMapper(Mapper):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = domain_event.model_dump_json().encode("utf-8")
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls: type[BaseModel] = resolve_topic(stored_event.topic)
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        try:
            event = cls.model_validate_json(state)
        except ValidationError as e:
            raise MapperDeserialisationError(
                f"stored event {stored_event.originator_id} v{stored_event.originator_version} "
                f"({stored_event.topic}) does not decode: {e}"
            ) from e
        # The state repeats the row's key; a mismatch means the row was moved behind our back.
        if (event.originator_id, event.originator_version) != (
            stored_event.originator_id,
            stored_event.originator_version,
        ):
            raise MapperDeserialisationError(
                f"stored event {stored_event.originator_id} v{stored_event.originator_version} "
                f"holds the state of {event.originator_id} v{event.originator_version}"
            )
        return event


class UnusedTranscoder(Transcoder):
    """The mapper encodes by itself; the library still wants a transcoder object."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError


# The library settings of every application here that stores pydantic events.
PYDANTIC_ENV: dict[str, str] = {
    "MAPPER_TOPIC": get_topic(PydanticMapper),
    "TRANSCODER_TOPIC": get_topic(UnusedTranscoder),
}


class StreamReader:
    """The events of many streams after given versions, in one query.

    The library reads one stream per query; a platform batch touches hundreds of
    records, and one query each was most of a batch's time (``scripts/bench_api.py``).
    On PostgreSQL this joins the wanted (stream, version) pairs against the library's
    own events table; on SQLite, where a query costs no round trip, it asks the
    recorder stream by stream.
    """

    def __init__(self, recorder: Any):
        self.recorder = recorder
        self._postgres = isinstance(recorder, PostgresApplicationRecorder)
        if self._postgres:
            self._query = SQL(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state "
                "FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, after) "
                "JOIN {schema}.{table} e ON e.originator_id = k.id AND e.originator_version > k.after "
                "ORDER BY e.originator_id, e.originator_version"
            ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))

    def after(self, versions: dict[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        found: dict[UUID, list[StoredEvent]] = {}
        if not self._postgres:
            for stream, version in versions.items():
                found[stream] = list(self.recorder.select_events(stream, gt=version))
            return found
        with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._query, (list(versions), list(versions.values())))
            for oid, version, topic, state in curs.fetchall():
                found.setdefault(oid, []).append(StoredEvent(oid, version, topic, bytes(state)))
        return found
