"""The write path's shortcuts give exactly what the plain way gives: the canonical JSON (orjson
against ``json``), the stored JSON made at sealing (against ``model_dump_json``), the name-based
ids (against ``uuid.uuid5``) and the head's link read from its row (against the decoded event). A digest
that differed by one byte would break every chain written after the change."""

from __future__ import annotations

import json
import pickle
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import TopicError
from pydantic import BaseModel
from pydantic_core import to_json
from hypothesis import given, settings
from hypothesis import strategies as st

from ce_ledger.domain.chain import _ENCODE, canonical, event_digest
from ce_ledger.domain.details import ActivityDetails
from ce_ledger.domain.events import EVENT_FOR_DETAILS, ActivityDecided, ActivityVoided, ProfessionalRegistered
from ce_ledger.domain.professional import Professional
from ce_ledger.domain.values import Channel, Series, uuid5
from tests import builders as b

PLAIN = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def test_every_code_point_is_written_as_json_writes_it():
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for k in range(0, len(points), 4096):
        content = {"b": "".join(points[k:k + 4096]), "a": [points[k], {"z": points[k]}]}
        assert canonical(content) == PLAIN(content).encode("utf-8"), hex(ord(points[k]))
        # A checked event's stored JSON is orjson's, the model's is pydantic's (``LedgerEvent.sealed``).
        content[points[k]] = [2**63 - 1, -(2**63), True, None]
        assert orjson.dumps(content) == to_json(content), hex(ord(points[k]))


def test_floats_integers_past_64_bits_and_deep_nesting_go_the_plain_way():
    deep: object = 0
    for _ in range(900):  # a tampered row may nest past orjson's limit and past Python's recursion
        deep = [deep]
    for content in ({"x": 1e16, "y": [0.1]}, {"x": {"y": [1.5e-7]}}, {"n": 2**64}, {"n": -(2**70)},
                    {"t": (1, 2.5)}, {"deep": deep}):
        assert canonical(content) == PLAIN(content).encode("utf-8")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_any_json_content_is_written_as_json_writes_it(content):
    assert canonical(content) == _ENCODE(content).encode("utf-8")


ON = date(2024, 3, 1)
DETAILS: list[ActivityDetails] = [
    b.public("1.5", ON, title="公需课：职业道德 \"引号\" \\ 𝔘"), b.specialty("12", ON), b.tour(3, ON, date(2024, 3, 3)),
    b.teaching("4", ON), b.foreign_pass(ON), b.computer_pass("WORD2016", ON), b.degree(date(2019, 9, 1), date(2022, 6, 30)),
]


@pytest.mark.parametrize("details", DETAILS, ids=lambda d: type(d).__name__)
def test_an_activity_stores_the_json_its_model_writes(details):
    fields = {name: getattr(details, name) for name in type(details).model_fields}
    event_class = EVENT_FOR_DETAILS[type(details)]
    event = event_class.next_in_chain(uuid.uuid4(), (75, "ab" * 32), activity_id=uuid.uuid4(),
                                      recorded_at=datetime(2024, 3, 2, 8, 30, tzinfo=UTC), caused_by="platform",
                                      channel=Channel.IMPORT, **fields)
    written = event.model_dump_json().encode("utf-8")
    assert event.stored_json() == written
    assert event.stored_json() == written  # kept once: asked again, the model writes it
    assert event.digest == event.content_digest() == event_digest(
        event_class.__name__, json.loads(event.model_dump_json(exclude={"digest"})))
    assert type(event).model_validate_json(written) == event


@pytest.mark.parametrize("details", DETAILS, ids=lambda d: type(d).__name__)
def test_an_activity_built_from_checked_details_is_the_one_validation_builds(details):
    # The write path builds an activity's event without validating again (``sealed(checked=True)``):
    # the same values of the same types, the same fields set, the same digest and stored bytes.
    fields = {name: getattr(details, name) for name in type(details).model_fields}
    made = {}
    for checked in (False, True):
        made[checked] = EVENT_FOR_DETAILS[type(details)].next_in_chain(
            uuid.UUID(int=7), (75, "ab" * 32), checked=checked, activity_id=uuid.UUID(int=9),
            recorded_at=datetime(2024, 3, 2, 8, 30, tzinfo=UTC), caused_by="platform", channel="import", **fields)
    plain, fast = made[False], made[True]
    assert fast == plain and fast.digest == plain.digest == fast.content_digest()
    assert {k: type(v) for k, v in fast.__dict__.items()} == {k: type(v) for k, v in plain.__dict__.items()}
    assert list(fast.__dict__) == list(plain.__dict__)
    assert fast.model_fields_set == plain.model_fields_set
    assert fast.stored_json() == plain.stored_json() == plain.model_dump_json().encode("utf-8")


def test_a_recording_holds_plain_strings_for_who_and_which_door():
    professional = Professional(id=uuid.UUID(int=7), version=3, registration=None)
    professional.record(b.public("2", ON), now=datetime(2024, 3, 2, tzinfo=UTC), today=ON, by="platform",
                        channel=Channel.IMPORT, generation=0)
    event = professional.pending()[0]
    assert type(event.channel) is str and event.channel == "import" and type(event.caused_by) is str
    fields = {name: getattr(event, name) for name in type(event).model_fields
              if name not in ("digest", "previous_digest", "originator_id", "originator_version")}
    assert type(event).next_in_chain(uuid.UUID(int=7), (3, event.previous_digest), checked=True, **fields) == event
    with pytest.raises(KeyError):  # a field left out is an error, never filled in silently
        type(event).next_in_chain(uuid.UUID(int=7), None, checked=True, recorded_at=event.recorded_at)
    with pytest.raises(TypeError, match="no field colour"):  # nor one the model has not, dropped
        type(event).next_in_chain(uuid.UUID(int=7), None, checked=True, colour="red", **fields)


def test_a_copy_never_stores_the_json_of_what_it_was_copied_from():
    details = b.public("2", ON)
    event = EVENT_FOR_DETAILS[type(details)].next_in_chain(
        uuid.uuid4(), None, activity_id=uuid.uuid4(), recorded_at=datetime(2024, 3, 2, tzinfo=UTC),
        caused_by="platform", channel="api", **{n: getattr(details, n) for n in type(details).model_fields})
    changed = event.model_copy(update={"title": "另一门课"})
    assert json.loads(changed.stored_json())["title"] == "另一门课"
    assert event.stored_json() == event.model_dump_json().encode("utf-8")


def test_a_sealed_event_inside_another_model_serialises_as_itself():
    voided = ActivityVoided.next_in_chain(
        uuid.uuid4(), (3, "ab" * 32), activity_id=uuid.uuid4(), decided_by="committee", reason="重复", decided_on=ON,
        decision_ref="D-1", recorded_at=datetime(2024, 3, 2, tzinfo=UTC), caused_by="committee", channel="api")

    class Holder(BaseModel):
        event: ActivityDecided | ActivityVoided

    assert json.loads(Holder.model_construct(event=voided).model_dump_json())["event"]["decision_ref"] == "D-1"


def test_an_event_with_nested_content_stores_what_the_model_writes():
    registered = ProfessionalRegistered.next_in_chain(
        uuid.uuid4(), None, masked_id="640104********1234", name="张三", employer_unit="U-1", registered_on=ON,
        series=Series(name="工程技术", requires_foreign_language_exam=False, requires_computer_exam=True,
                      own_ce_regulation=False),
        recorded_at=datetime(2024, 3, 2, tzinfo=UTC), caused_by="platform", channel="api")
    assert registered.stored_json() == registered.model_dump_json().encode("utf-8")
    assert registered.digest == registered.content_digest()


def test_a_heads_link_is_read_from_its_row_and_a_bad_row_is_refused(memory_ledger):
    pid = memory_ledger.register(b.registration(), by="platform").professional_id
    memory_ledger.record(pid, b.public("2", date(2019, 3, 1)), by="platform")
    head = list(memory_ledger.events.get(pid))[-1]
    row = memory_ledger.mapper.to_stored_event(head)
    decode = memory_ledger.mapper.to_domain_event
    memory_ledger.mapper.to_domain_event = None  # read from the row, not decoded
    try:
        assert memory_ledger._link(row) == head.link
    finally:
        memory_ledger.mapper.to_domain_event = decode
    moved = StoredEvent(uuid.uuid4(), row.originator_version, row.topic, row.state)  # another stream's row
    with pytest.raises(MapperDeserialisationError):
        memory_ledger._link(moved)
    with pytest.raises(MapperDeserialisationError):
        memory_ledger._link(StoredEvent(pid, row.originator_version, row.topic, b'{"digest": 1}'))
    doc = json.loads(row.state)
    for changed in ({**doc, "injected": "x"}, {k: v for k, v in doc.items() if k != "title"}):
        with pytest.raises(MapperDeserialisationError):  # not this kind's fields: decoded, and refused
            memory_ledger._link(StoredEvent(pid, row.originator_version, row.topic, json.dumps(changed).encode()))
    with pytest.raises(TopicError):
        memory_ledger._link(StoredEvent(pid, row.originator_version, "no_such_module:Kind", row.state))


def test_name_based_ids_are_uuid5():
    for namespace in (uuid.UUID(int=0), uuid.UUID("6f1c7f0e-3d2b-5a59-9a57-1e0c2b6f0a11"), uuid.uuid4()):
        for name in ("", "platform-record:D-1", "证书:NXJY-01/2024-0001#2", "x" * 500):
            ours, theirs = uuid5(namespace, name), uuid.uuid5(namespace, name)
            assert (ours, ours.bytes, str(ours), ours.version, ours.variant, hash(ours)) == (
                theirs, theirs.bytes, str(theirs), theirs.version, theirs.variant, hash(theirs))
            assert (ours.is_safe, type(ours), pickle.loads(pickle.dumps(ours)), repr(ours)) == (
                theirs.is_safe, type(theirs), theirs, repr(theirs))
            with pytest.raises(TypeError):  # as immutable as the standard one
                ours.int = 0  # type: ignore[misc]


def test_hours_keep_their_exact_spelling_in_the_digest():
    details = b.public("1.50", ON)
    event = EVENT_FOR_DETAILS[type(details)].next_in_chain(
        uuid.uuid4(), None, activity_id=uuid.uuid4(), recorded_at=datetime(2024, 3, 2, tzinfo=UTC),
        caused_by="platform", channel="api", **{n: getattr(details, n) for n in type(details).model_fields})
    assert json.loads(event.stored_json())["hours"] == json.loads(details.model_dump_json())["hours"]
    assert Decimal(json.loads(event.stored_json())["hours"]) == Decimal("1.5")
