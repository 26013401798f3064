from __future__ import annotations

from conftest import T0, track
from intently import Engine


def test_sessions_split_on_thirty_minutes_of_inactivity(engine: Engine) -> None:
    for minutes in (0, 10, 39, 80, 81):  # gaps: 10, 29, 41, 1
        engine.process(track("Product Viewed", user="u", at=T0 + minutes * 60))
    p = engine.profile("u")
    assert p.sessions == 2
    assert p.session_start == T0 + 80 * 60
    assert p.session_events == 2
    assert (p.first_seen, p.last_seen) == (T0, T0 + 81 * 60)


def test_late_events_count_but_open_nothing(engine: Engine) -> None:
    engine.process(track("Product Viewed", user="u", at=T0))
    engine.process(track("Product Viewed", user="u", at=T0 - 7200))
    p = engine.profile("u")
    assert p.events == 2 and p.sessions == 1
    assert p.first_seen == T0 - 7200 and p.last_seen == T0


def test_monetary_recency_frequency_and_affinities(engine: Engine) -> None:
    engine.process(track("Product Viewed", user="u", at=T0, category="shoes", price=80))
    engine.process(track("Order Completed", user="u", at=T0 + 60, revenue=80.0,
                         category="shoes"))
    engine.process(track("Order Completed", user="u", at=T0 + 86400, products=[
        {"price": 10, "quantity": 2}, {"price": 5}], category="socks", channel="store"))
    p = engine.profile("u")
    assert p.orders == 2
    assert p.revenue == 105.0
    assert (p.first_order, p.last_order) == (T0 + 60, T0 + 86400)
    assert p.categories == {"shoes": 2, "socks": 1}
    assert p.channels == {"web": 2, "store": 1}
    assert p.event_counts == {"Product Viewed": 1, "Order Completed": 2}
    assert p.signal_counts == {"viewed_product": 1, "purchased": 2, "returned_after_gap": 1}


def test_category_affinity_keeps_the_heavy_hitters(engine: Engine) -> None:
    cap = engine.pipeline.aggregator.settings.top_categories
    for i in range(cap + 5):
        engine.process(track("Product Viewed", user="u", at=T0 + i, category=f"c{i}"))
    for _ in range(3):
        engine.process(track("Product Viewed", user="u", at=T0 + 100, category="c0"))
    p = engine.profile("u")
    assert len(p.categories) == cap
    assert max(p.categories, key=p.categories.__getitem__) == "c0"


def test_active_hours_are_local_to_the_customer(engine: Engine) -> None:
    # T0 is 14:13 UTC = 16:13 in Berlin (CEST) and 10:13 in New York (EDT)
    engine.process({**track("Product Viewed", user="b", at=T0),
                    "context": {"timezone": "Europe/Berlin"}})
    engine.process({**track("Product Viewed", user="n", at=T0),
                    "context": {"timezone": "America/New_York"}})
    engine.process({**track("Product Viewed", user="x", at=T0),
                    "context": {"timezone": "Not/AZone"}})
    assert engine.profile("b").hours[16] == 1
    assert engine.profile("n").hours[10] == 1
    assert engine.profile("x").hours[14] == 1


def test_consents_per_channel_from_traits_events_and_segment_context(engine: Engine) -> None:
    engine.process({"type": "identify", "userId": "u", "timestamp": T0,
                    "traits": {"email": "u@x.com", "consents": {"email": True, "SMS": False}}})
    engine.process(track("Unsubscribed", user="u", at=T0 + 1, channel="email"))
    engine.process({**track("Page Viewed", user="u", at=T0 + 2),
                    "context": {"consent": {"categoryPreferences": {"push": True}}}})
    p = engine.profile("u")
    assert p.consents == {"email": False, "sms": False, "push": True}
    assert "consents" not in p.traits and p.traits["email"] == "u@x.com"


def test_journey_entry_point_and_reset_after_purchase_or_a_day(engine: Engine) -> None:
    engine.process({**track("Product Viewed", anon="a", at=T0), "context": {
        "campaign": {"source": "google", "name": "spring", "medium": "cpc"},
        "page": {"url": "https://shop/x", "referrer": "https://google.com"}}})
    engine.process(track("Order Completed", anon="a", at=T0 + 60, revenue=5))
    p = engine.profile("a")
    assert p.entry.to_dict() == {"channel": "web", "source": "google", "campaign": "spring",
                                 "medium": "cpc", "referrer": "https://google.com",
                                 "landing": "https://shop/x"}
    assert p.chain == ["viewed_product", "purchased"]
    engine.process(track("Email Opened", anon="a", at=T0 + 120))
    p = engine.profile("a")
    assert p.chain == ["opened_email"] and p.entry.channel == "email"
    engine.process(track("Product Viewed", anon="a", at=T0 + 120 + 25 * 3600))
    p = engine.profile("a")
    assert p.chain == ["returned_after_gap", "viewed_product"]
    assert p.journey_start == T0 + 120 + 25 * 3600


def test_chain_keeps_the_most_recent_signals(engine: Engine) -> None:
    limit = engine.pipeline.aggregator.settings.chain_limit
    for i in range(limit + 10):
        engine.process(track("Product Viewed" if i % 2 else "Product Added", user="u", at=T0 + i))
    p = engine.profile("u")
    assert len(p.chain) == len(p.chain_ts) == limit
    assert p.chain_ts[-1] == T0 + limit + 9


def test_record_round_trips_through_its_storage_format(engine: Engine) -> None:
    from intently.profiles import decode_profile, encode_profile

    engine.process({**track("Order Completed", user="u", at=T0, revenue=3),
                    "context": {"timezone": "Asia/Tokyo"}})
    p = engine.profile("u")
    assert decode_profile(encode_profile(p)) == p
    data = p.to_dict()
    assert data["signal_counts"] == {"purchased": 1} and data["entry"] == {"channel": "web"}



def test_a_read_record_holds_its_packed_arrays_at_their_exact_size(engine: Engine) -> None:
    """Records read back fill the cache at a population larger than it: each packed array is
    allocated at its length, with no room to grow; and a record stored before its last figures
    were added reads them as zero."""
    import sys
    from array import array

    import msgspec

    from intently.profiles import decode_profile, encode_profile
    from intently.profiles._parts import SCALARS

    for i in range(9):
        engine.process(track("Product Viewed", user="u", at=T0 + 60 * i,
                             product_id=f"p{i}", category="shoes"))
    engine.process(track("Order Completed", user="u", at=T0 + 900, revenue=3, order_id="o1"))
    p = decode_profile(encode_profile(engine.profile("u")))
    assert p == engine.profile("u")
    packed = [p.chain_ts, p.hours, p.items]
    assert len(p.chain_ts) >= 10 and p.items is not None
    for a in packed:
        assert type(a) is not array  # the record's own classes
        assert sys.getsizeof(a) == sys.getsizeof(array(a.typecode)) + len(a) * a.itemsize
    assert SCALARS[-1] == "journal_head"
    p.journal_head = 7.0
    stored = list(msgspec.msgpack.decode(encode_profile(p)))
    stored[4] = stored[4][: 8 * (len(SCALARS) - 1)]  # without the last figure
    older = decode_profile(msgspec.msgpack.encode(stored))
    assert older.journal_head == 0.0
    p.journal_head = 0.0
    assert older == p

def test_records_stored_with_scenario_state_inside_segment_state_still_read() -> None:
    """Before scenario state had a slot of its own it sat inside the segment state: such a
    record decodes with its journeys on `sc`, and is written back in today's format."""
    import msgspec

    from intently.profiles import (
        Profile,
        ScenarioProgress,
        ScenarioState,
        decode_profile,
        encode_profile,
    )

    sc = ScenarioState(journeys={"welcome": ScenarioProgress(1, "main", T0, 1, wake=T0 + 60)})
    today = Profile(id="r1", sc=sc)
    today.segments = ("vip",)
    old = list(msgspec.msgpack.decode(encode_profile(today)))
    seg, mine = old[-3], old[-2]  # (the last field, the item memory, came later still)
    assert mine is not None and seg[2] is None
    old_blob = msgspec.msgpack.encode([*old[:-3], [seg[0], seg[1], mine]])  # 20 fields
    p = decode_profile(old_blob)
    assert p.sc == sc and p.segments == ("vip",) and p == today
    assert decode_profile(encode_profile(p)) == today


def test_local_hour_holds_across_clock_changes_in_any_order() -> None:
    """An event's local hour is the zone's, around the changes to and from summer time, in
    zones with half and quarter hours, whether the events come in time order or not (the
    offset is looked up once a day and reused)."""
    import random
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from intently.profiles._aggregates import Aggregator

    zones = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
             "America/St_Johns", "UTC")
    # 00:00 UTC on 2026-03-07, 03-28, 04-04, 10-03, 10-24 and 10-31: three days from each
    # cover the changes of these zones in 2026
    starts = (1772841600.0, 1774656000.0, 1775260800.0, 1790985600.0, 1792800000.0,
              1793404800.0)
    times = [start + minutes * 60.0 for start in starts for minutes in range(0, 3 * 1440, 20)]
    for shuffled in (False, True):
        if shuffled:
            random.Random(7).shuffle(times)
        aggregator = Aggregator()
        for ts in times:
            for tz in zones:
                bucket = int(ts // 3600) * 3600  # the offset at the start of the UTC hour
                offset = datetime.fromtimestamp(bucket, ZoneInfo(tz)).utcoffset()
                assert offset is not None
                want = int((ts + offset.total_seconds()) // 3600) % 24
                assert aggregator._local_hour(ts, tz) == want, (ts, tz)
    assert Aggregator()._local_hour(3600.0 * 5, "Not/A_Zone") == 5
