"""Customer groups: readable clusters of customers on value, visits, discount and channels."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from intently import Engine, ManualClock
from intently.analytics import cluster_customers
from intently.cli import app
from intently.store import MemoryStore
from intently.testing import Shop


def test_groups_are_readable_and_find_the_bargain_hunters() -> None:
    shop = Shop(users=1500, days=30, seed=3)
    now = shop.start + 31 * 86400
    engine = Engine(MemoryStore(), clock=ManualClock(now))
    engine.process_many(shop.events())
    groups = cluster_customers(engine.hot_profiles(), now, k=6)
    assert sum(g.size for g in groups) == 1500 and len({g.name for g in groups}) == 6
    truth = shop.truth()
    discount = next(g for g in groups if "buy on discount" in g.name)
    assert discount.means["discount_share"] > 0.5
    members = [p for p in engine.hot_profiles()
               if p.orders and p.counts.get("o:discounted", 0) / p.orders > 0.5]
    top = Counter(truth[p.id]["archetype"] for p in members).most_common(1)[0][0]
    assert top == "bargain_hunter"


def test_cli_groups(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    engine = Engine(db)
    engine.process_many(Shop(users=200, days=10, seed=1).events())
    engine.close()
    out = CliRunner().invoke(app, ["segments", "groups", "--k", "4", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    groups = json.loads(out.stdout)
    assert len(groups) == 4 and all(g["name"] and g["size"] > 0 for g in groups)
    bad = CliRunner().invoke(app, ["segments", "groups", "--k", "500", "--db", str(db)])
    assert bad.exit_code == 2 and "too few" in bad.output
