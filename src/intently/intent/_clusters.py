"""Behavioral clusters: which chain of signals a journey follows.

Learned from history with k-means on which signals a journey contains (among the last
`window` signals, the chain the record keeps). Each cluster gets a readable name from its
distinctive signals (those its journeys show far more often than others), its size and its
conversion rate. Online, a journey's cluster is its nearest centroid; the answer depends only on
the set of signals, so it is memoized and costs a set and a dict look-up per event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..profiles import Profile
from ._journeys import Journey

PHRASES = {
    "viewed_video": "watch the video", "viewed_specs": "read the specs",
    "repeated_spec_view": "re-read the specs", "shared": "share",
    "returned_after_gap": "come back later", "viewed_product": "view products",
    "browsed_category": "browse categories", "searched": "search",
    "added_to_cart": "add to cart", "viewed_cart": "look at the cart",
    "started_checkout": "start checkout", "used_promotion": "use promotions",
    "opened_email": "open emails", "clicked_email": "click emails",
    "removed_from_cart": "remove from cart", "wishlisted": "wishlist",
    "viewed_page": "read pages", "signed_up": "sign up",
}


def phrase(signal: str) -> str:
    return PHRASES.get(signal, signal.replace("_", " "))


@dataclass
class Cluster:
    name: str
    description: str
    signals: dict[str, float]  # share of the cluster's journeys that show each signal
    size: int
    share: float
    conversion_rate: float


@dataclass
class ClusterModel:
    version: str
    signals: list[str]
    centroids: list[list[float]]
    clusters: list[Cluster]
    window: int = 24
    source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {s: i for i, s in enumerate(self.signals)}
        c = np.asarray(self.centroids, dtype=float)
        self._base = (c**2).sum(axis=1).tolist()  # |mu|^2 per cluster
        self._delta = {s: (1 - 2 * c[:, i]).tolist() for s, i in self._index.items()}
        self._memo: dict[frozenset[str], str] = {}

    def predict_one(self, p: Profile, now: float) -> dict[str, Any] | None:
        """The cluster of the record's journey so far (None: no journey yet)."""
        return {"cluster": self.assign(frozenset(p.chain))} if p.chain else None

    def assign(self, present: frozenset[str]) -> str:
        """The name of the nearest cluster for a journey showing these signals."""
        found = self._memo.get(present)
        if found is None:
            dist = list(self._base)
            for sig in present:
                delta = self._delta.get(sig)
                if delta is not None:
                    dist = [d + x for d, x in zip(dist, delta, strict=True)]
            found = self.clusters[dist.index(min(dist))].name
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[present] = found
        return found

    def to_json(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_json(cls, blob: bytes | str) -> ClusterModel:
        data = json.loads(blob)
        data["clusters"] = [Cluster(**c) for c in data["clusters"]]
        return cls(**data)


def presence(signals: Sequence[str], window: int = 24) -> frozenset[str]:
    return frozenset(signals[-window:])


def train_clusters(journeys: Iterable[Journey], *, k: int = 7, version: str, source: str,
                   window: int = 24, seed: int = 0) -> ClusterModel:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    journeys = list(journeys)
    signals = sorted({s for j in journeys for s in j.signals})
    index = {s: i for i, s in enumerate(signals)}
    x = np.zeros((len(journeys), len(signals)))
    for row, j in enumerate(journeys):
        for s in presence(j.signals, window):
            x[row, index[s]] = 1.0
    # no more clusters than distinct sets of signals (a shop with views and carts has three)
    k = max(1, min(k, len(np.unique(x, axis=0))))
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    converted = np.asarray([j.converted for j in journeys], dtype=float)
    overall = x.mean(axis=0) + 1e-9
    clusters: list[Cluster] = []
    used: set[str] = set()
    for c in range(k):
        members = km.labels_ == c
        rates = x[members].mean(axis=0)
        lift = rates / overall
        common = [signals[i] for i in np.argsort(-lift * (rates >= 0.5)) if rates[i] >= 0.5]
        common = common or [signals[int(np.argmax(rates))]]
        distinctive = common[:3]
        name = ", ".join(phrase(s) for s in distinctive)
        for extra in common[3:]:  # a twin's name: say what else this cluster does
            if name not in used:
                break
            distinctive.append(extra)
            name = ", ".join(phrase(s) for s in distinctive)
        base, twin = name, 2
        while name in used:
            name, twin = f"{base} ({twin})", twin + 1
        used.add(name)
        conv = float(converted[members].mean()) if members.any() else 0.0
        size = int(members.sum())
        clusters.append(Cluster(
            name=name,
            description=(f"Journeys where customers {_and([phrase(s) for s in distinctive])}: "
                         f"{size} journeys ({size / len(journeys):.0%}), {conv:.0%} convert."),
            signals={signals[i]: round(float(rates[i]), 3) for i in np.argsort(-rates)
                     if rates[i] >= 0.05},
            size=size, share=round(size / len(journeys), 4), conversion_rate=round(conv, 4)))
    sample = np.random.default_rng(seed).choice(len(x), size=min(3000, len(x)), replace=False)
    labels = km.labels_[sample]
    silhouette = (float(silhouette_score(x[sample], labels))
                  if 1 < len(np.unique(labels)) < len(sample) else 0.0)
    return ClusterModel(version=version, signals=signals,
                        centroids=km.cluster_centers_.round(6).tolist(), clusters=clusters,
                        window=window, source=source,
                        metrics={"k": k, "silhouette": round(silhouette, 4),
                                 "n_journeys": len(journeys)})


def _and(parts: Iterable[str]) -> str:
    items = list(parts)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
