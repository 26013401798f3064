from __future__ import annotations

import pytest

from intently import Event, ValidationError
from intently.engine import as_event
from intently.events import parse_timestamp

EPOCH = 1569888000.0  # 2019-10-01T00:00:00Z


@pytest.mark.parametrize("value", [
    "2019-10-01T00:00:00Z", "2019-10-01T00:00:00.000Z", "2019-10-01T00:00:00+00:00",
    "2019-10-01T02:00:00+02:00", "2019-10-01 00:00:00 UTC", "2019-10-01 00:00:00UTC",
    "2019-10-01 00:00:00", "2019-10-01T00:00:00", EPOCH, int(EPOCH), int(EPOCH * 1000),
    str(int(EPOCH)), str(int(EPOCH * 1000)), "1569888000.0",
])
def test_timestamps_as_real_exports_write_them(value: object) -> None:
    assert parse_timestamp(value) == EPOCH


@pytest.mark.parametrize("value", ["yesterday", "", "2019-13-01", True, -5, [1]])
def test_bad_timestamps_say_what_is_wrong(value: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_event_normalizes_ids_and_time() -> None:
    ev = as_event({"event": "Product Viewed", "userId": 42, "timestamp": "2019-10-01T00:00:00Z"})
    assert ev.user_id == "42"
    assert ev.ts == EPOCH
    assert ev.type == "track" and ev.action == "Product Viewed"
    assert as_event({"type": "page", "anonymousId": "a"}).action == "Page Viewed"


@pytest.mark.parametrize(("event", "path", "words"), [
    ({"type": "track", "userId": "u"}, "$.event", "required for track"),
    ({"event": "X"}, "$.userId", "userId or an anonymousId"),
    ({"event": "X", "userId": "u", "timestamp": "soon"}, "$.timestamp", "cannot parse"),
    ({"event": "X", "userId": ["u"]}, "$.userId", "Expected"),
    ({"event": "X", "userId": "u", "properties": []}, "$.properties", "Expected `object`"),
    ({"type": "alias", "userId": "u"}, "$.previousId", "alias needs"),
    ({"type": "bogus", "userId": "u"}, "$.type", "Invalid enum value"),
])
def test_validation_errors_name_the_field(event: dict, path: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        as_event(event)
    assert info.value.path == path
    assert words in info.value.message


def test_validation_path_is_rooted_where_the_event_sits() -> None:
    with pytest.raises(ValidationError) as info:
        as_event({"event": "X"}, "$.batch[3]")
    assert info.value.path == "$.batch[3].userId"


def test_malformed_json_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="malformed JSON"):
        as_event(b'{"event": "X", ')


def test_event_struct_round_trips() -> None:
    import msgspec

    ev = as_event({"event": "Order Completed", "userId": "u", "properties": {"revenue": 10},
                   "timestamp": EPOCH})
    again = msgspec.json.decode(msgspec.json.encode(ev), type=Event)
    assert again == ev
