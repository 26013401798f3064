from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from intently import Engine
from intently.engine import as_event
from intently.testing import Shop
from intently.testing.simulator import ARCHETYPES, CSV_COLUMNS


def test_same_seed_same_shop() -> None:
    a = list(Shop(users=50, days=7, seed=4).events())
    b = list(Shop(users=50, days=7, seed=4).events())
    c = list(Shop(users=50, days=7, seed=5).events())
    assert a == b and a != c


def test_events_are_valid_in_time_order_with_unique_ids() -> None:
    events = [as_event(e) for e in Shop(users=200, days=14, seed=2).events()]
    times = [e.ts for e in events]
    assert times == sorted(times)
    assert len({e.message_id for e in events}) == len(events)


def test_archetypes_behave_as_described(engine: Engine) -> None:
    shop = Shop(users=700, days=30, seed=8)
    engine.process_many(shop.events())
    truth = shop.truth()
    assert {row["archetype"] for row in truth.values()} == {a.name for a in ARCHETYPES}
    by_type: dict[str, list] = {}
    for c in shop.customers:
        by_type.setdefault(c.archetype.name, []).append(engine.profile(c.anonymous_id))
    researchers = by_type["researcher"]
    assert all(p.signal_count("viewed_video") and p.signal_count("shared") for p in researchers)
    assert sum(p.signal_count("repeated_spec_view") > 0 for p in researchers) > len(
        researchers) * 0.8
    conversion = {name: sum(p.orders > 0 for p in ps) / len(ps) for name, ps in by_type.items()}
    assert conversion["window_shopper"] < 0.2 < 0.8 < conversion["loyal_regular"]
    assert all(p.signal_count("used_promotion") for p in by_type["bargain_hunter"])
    # ground truth agrees with what the engine saw
    for c in shop.customers:
        assert (engine.profile(c.anonymous_id).orders > 0) == c.will_purchase


def test_baskets_have_co_purchase_structure() -> None:
    baskets = [{line["name"] for line in e["properties"]["products"]}
               for e in Shop(users=1500, days=30, seed=3).events()
               if e.get("event") == "Order Completed"]
    both = [b for b in baskets if {"champagne", "candy box"} <= b]
    assert len(both) > 20
    assert sum("flowers" in b for b in both) / len(both) > 0.5
    others = [b for b in baskets if not {"champagne", "candy box"} <= b]
    assert sum("flowers" in b for b in others) / len(others) < 0.2


def test_writes_csv_for_ingest(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    n = Shop(users=30, days=3).write(path)
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n and tuple(rows[0]) == CSV_COLUMNS
    assert Counter(r["type"] for r in rows)["track"] > 0
