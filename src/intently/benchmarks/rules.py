"""Basket-rule mining at two sizes: Groceries-like (about 10k baskets over 170 items, mean
basket 4.4 items, min support 0.001) and a million baskets of the same shape."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..analytics import mine_rules


def groceries_like(baskets: int, items: int = 170, seed: int = 0) -> pa.Table:
    """Zipf-popular items, Poisson basket sizes (mean 4.4), and a few bundles bought together."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, items + 1) ** 0.9
    weights /= weights.sum()
    sizes = np.maximum(1, rng.poisson(3.4, baskets) + 1)
    total = int(sizes.sum())
    basket_ids = np.repeat(np.arange(baskets), sizes)
    picks = rng.choice(items, size=total, p=weights)
    bundles = rng.choice(items, size=(12, 3), replace=False)
    chosen = rng.random(baskets) < 0.08
    extra_b = np.repeat(np.nonzero(chosen)[0], 3)
    extra_i = bundles[rng.integers(0, 12, chosen.sum())].ravel()
    return pa.table({"basket": np.concatenate([basket_ids, extra_b]).astype(str),
                     "item": np.char.add("item", np.concatenate([picks, extra_i]).astype(str))})


def run(million: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sizes = [("rules_groceries_s", 9_835)] + ([("rules_1m_baskets_s", 1_000_000)] if million
                                               else [])
    with tempfile.TemporaryDirectory() as tmp:
        for label, n in sizes:
            path = Path(tmp) / f"{n}.parquet"
            pq.write_table(groceries_like(n), path)
            started = time.perf_counter()
            rules = mine_rules(path, min_support=0.001, min_confidence=0.1)
            out[label] = round(time.perf_counter() - started, 3)
            out[label.replace("_s", "_rules")] = len(rules)
    return out
