"""Features of a journey prefix: what the customer has done so far in this journey, as numbers.

One function serves training, evaluation and (later) online scoring, so the model sees the same
features everywhere. Inputs are only the signals and times *before* the moment of prediction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np


@dataclass(frozen=True)
class FeatureSpace:
    """Which signals and item categories get their own columns (the most frequent ones in
    training)."""

    signals: tuple[str, ...]
    pair_signals: tuple[str, ...]  # the few whose transitions (a -> b) get columns
    categories: tuple[str, ...] = ()  # the top-level categories of the items looked at

    @classmethod
    def from_counts(cls, counts: dict[str, int], top: int = 24, pairs: int = 8,
                    categories: dict[str, int] | None = None, top_categories: int = 16
                    ) -> FeatureSpace:
        ranked = _ranked(counts)
        return cls(ranked[:top], ranked[:pairs], _ranked(categories or {})[:top_categories])

    @property
    def names(self) -> list[str]:
        names = [f"count:{s}" for s in self.signals] + [f"last:{s}" for s in self.signals]
        names += [f"pair:{a}>{b}" for a in self.pair_signals for b in self.pair_signals]
        names += [f"category:{c}" for c in self.categories]
        return [*names, "events", "distinct", "log_minutes", "log_gap_last", "log_gap_max",
                "returned", "repeats"]

    def vector(self, signals: Sequence[str], times: Sequence[float],
               category: str | None = None) -> np.ndarray:
        """The prefix `signals[i]` at `times[i]` (oldest first) as one feature row; `category`:
        that of the item the latest event is about."""
        k = len(self.signals)
        p = len(self.pair_signals)
        c = len(self.categories)
        row = np.zeros(2 * k + p * p + c + 7, dtype=np.float32)
        index = {s: i for i, s in enumerate(self.signals)}
        pair_index = {s: i for i, s in enumerate(self.pair_signals)}
        prev = None
        for sig in signals:
            i = index.get(sig)
            if i is not None:
                row[i] += 1
            if prev is not None:
                a, b = pair_index.get(prev), pair_index.get(sig)
                if a is not None and b is not None:
                    row[2 * k + a * p + b] = 1
            prev = sig
        if signals:
            last = index.get(signals[-1])
            if last is not None:
                row[k + last] = 1
        if category is not None and category in self.categories:
            row[2 * k + p * p + self.categories.index(category)] = 1
        base = 2 * k + p * p + c
        n = len(signals)
        gaps = [b - a for a, b in pairwise(times)]
        row[base] = n
        row[base + 1] = len(set(signals))
        row[base + 2] = math.log1p(max(0.0, (times[-1] - times[0]) / 60.0)) if n else 0.0
        row[base + 3] = math.log1p(max(0.0, gaps[-1] / 60.0)) if gaps else 0.0
        row[base + 4] = math.log1p(max(0.0, max(gaps) / 60.0)) if gaps else 0.0
        row[base + 5] = float(any(g >= 3600 for g in gaps))
        row[base + 6] = n - len(set(signals))
        return row


def _ranked(counts: dict[str, int]) -> tuple[str, ...]:
    return tuple(s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
