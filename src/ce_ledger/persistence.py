"""Adapter between the record's pydantic events and the library's stored events.

Follows the library's ``examples/aggregate7``: the event's own JSON is the stored
state, and decoding is a single ``model_validate_json`` (parse and validate in one
pass in pydantic-core) — the hot path of every load and every projection.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ValidationError


class PydanticMapper(Mapper):
    def plain(self, state: bytes) -> bytes:
        """A stored state's JSON, decrypted and decompressed, without decoding it (the audit
        reads rows the decoder would refuse)."""
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return state

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        made = getattr(domain_event, "stored_json", None)  # a ledger event's JSON, made when it was sealed
        state = made() if made is not None else domain_event.model_dump_json().encode("utf-8")
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
