"""Association rules: exact figures on a small set, structure found in simulated baskets, files
and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intently.analytics import baskets_from_events, mine_rules
from intently.cli import app
from intently.engine import as_event
from intently.testing import Shop

BASKETS = {
    "1": ["bread", "milk"],
    "2": ["bread", "diapers", "beer", "eggs"],
    "3": ["milk", "diapers", "beer", "cola"],
    "4": ["bread", "milk", "diapers", "beer"],
    "5": ["bread", "milk", "diapers", "cola"],
}


def pairs() -> list[tuple[str, str]]:
    return [(b, i) for b, items in BASKETS.items() for i in items]


def test_support_confidence_and_lift_are_exact() -> None:
    rules = {(r.antecedents, r.consequents): r for r in mine_rules(
        pairs(), min_support=0.4, min_confidence=0.6)}
    beer = rules[(("diapers",), ("beer",))]
    assert (beer.count, beer.support, beer.confidence) == (3, 0.6, 0.75)
    assert beer.lift == pytest.approx(0.75 / 0.6)
    # {beer, diapers, milk} is in 2 of 5 baskets: diapers + milk -> beer holds 2 of 3 times,
    # beer + milk -> diapers 2 of 2
    three = {(r.antecedents, r.consequents): r for r in mine_rules(
        pairs(), min_support=0.4, min_confidence=0.6, max_len=3)}
    assert three[(("diapers", "milk"), ("beer",))].confidence == pytest.approx(2 / 3)
    assert three[(("beer", "milk"), ("diapers",))].confidence == 1.0
    three = list(three.values())
    assert all(r.support >= 0.4 and r.confidence >= 0.6 for r in three)
    assert [r.lift for r in three] == sorted((r.lift for r in three), reverse=True)


def test_max_len_two_gives_pairs_only_and_bad_thresholds_are_refused() -> None:
    assert all(len(r.antecedents) == 1 for r in mine_rules(pairs(), min_support=0.2,
                                                           min_confidence=0.1, max_len=2))
    with pytest.raises(ValueError):
        mine_rules(pairs(), min_support=0)
    with pytest.raises(ValueError):
        mine_rules(pairs(), max_len=1)
    assert mine_rules([], min_support=0.1) == []


def test_simulated_baskets_offer_flowers_with_champagne_and_candy() -> None:
    events = [as_event(e) for e in Shop(users=1500, days=30, seed=2).events()]
    rules = mine_rules(baskets_from_events(events), min_support=0.01, min_confidence=0.5)
    flowers = [r for r in rules if r.consequents == ("flowers",)]
    assert any(set(r.antecedents) == {"champagne", "candy box"} and r.lift > 5 for r in flowers)


def test_cli_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "baskets.csv"
    path.write_text("order,product\n" + "".join(f"{b},{i}\n" for b, i in pairs()))
    out = CliRunner().invoke(app, ["rules", "mine", str(path), "--basket-col", "order",
                                   "--item-col", "product", "--min-support", "0.4",
                                   "--min-confidence", "0.6", "--json"])
    assert out.exit_code == 0, out.output
    rules = json.loads(out.stdout)
    assert {"antecedents": ["diapers"], "consequents": ["beer"], "support": 0.6,
            "confidence": 0.75, "lift": 1.25, "count": 3} in rules
    bad = CliRunner().invoke(app, ["rules", "mine", str(path), "--item-col", "nope"])
    assert bad.exit_code == 2 and "no column 'basket'" in bad.output
