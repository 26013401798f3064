"""The report's statistics: Wilson and Newcombe intervals against published values, and a
winner named only when the data says so."""

from __future__ import annotations

import pytest

from intently.scenarios import newcombe, report, wilson
from intently.store import MemoryStore


def test_wilson_and_newcombe_match_the_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890: 81/263 -> (0.2553, 0.3662);
    # 56/70 - 48/80 = 0.1833 with the hybrid score interval (0.0524, 0.3339)
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    d, lo, hi = newcombe(56, 70, 48, 80)
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def _store(arms: dict[str, tuple[int, int]]) -> MemoryStore:
    store = MemoryStore()
    rows = []
    for arm, (entered, converted) in arms.items():
        for i in range(entered):
            rows.append((f"e:{arm}{i}", "s", f"{arm}{i}", arm, "entered", 1.0, 0.0, ""))
            if i < converted:
                rows.append((f"c:{arm}{i}", "s", f"{arm}{i}", arm, "converted", 2.0, 10.0, ""))
    with store.transaction() as tx:
        tx.put_effects([], rows)
    return store


def test_a_winner_only_when_significant() -> None:
    clear = report(_store({"holdout": (400, 40), "A": (1600, 320), "B": (1600, 200)}), "s")
    assert clear["winner"] == "A"
    assert clear["arms"]["A"]["uplift"]["significant"]
    assert clear["arms"]["A"]["conversion_rate"] == 0.2
    assert clear["arms"]["A"]["revenue"] == 3200.0
    close = report(_store({"holdout": (400, 40), "A": (1600, 320), "B": (1600, 310)}), "s")
    assert close["winner"] is None and "keep testing" in close["reason"]
    small = report(_store({"holdout": (10, 1), "main": (90, 15)}), "s")
    assert small["winner"] is None
    assert small["arms"]["main"]["uplift"]["ci95"][0] < 0
