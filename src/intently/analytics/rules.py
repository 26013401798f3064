"""Association rules from baskets: "champagne + candy -> flowers".

Frequent itemsets are counted level by level (single items, pairs, triples, ...) with SQL in
DuckDB: each level joins only baskets' items that were frequent at the level below (the
Apriori property), so the work stays proportional to what can still be frequent. Rules have
one consequent; the antecedent (the itemset less the consequent) is frequent by the same
property, so its count is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb


@dataclass(frozen=True)
class Rule:
    antecedents: tuple[str, ...]
    consequents: tuple[str, ...]
    support: float
    confidence: float
    lift: float
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"antecedents": list(self.antecedents), "consequents": list(self.consequents),
                "support": round(self.support, 6), "confidence": round(self.confidence, 4),
                "lift": round(self.lift, 4), "count": self.count}


def mine_rules(
    baskets: Iterable[tuple[str, str]] | str | Path,
    *,
    min_support: float = 0.01,
    min_confidence: float = 0.5,
    max_len: int = 3,
    basket_col: str = "basket",
    item_col: str = "item",
) -> list[Rule]:
    """Rules from (basket id, item) pairs, or from a CSV/Parquet file with those columns.
    Sorted by lift, then confidence."""
    if not 0 < min_support <= 1 or not 0 <= min_confidence <= 1:
        raise ValueError("min_support must be in (0, 1] and min_confidence in [0, 1]")
    if max_len < 2:
        raise ValueError("max_len must be at least 2 (a rule needs two items)")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        _load(con, baskets, basket_col, item_col)
        return _mine(con, min_support, min_confidence, max_len)
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, baskets: Any, basket_col: str, item_col: str) -> None:
    if isinstance(baskets, str | Path):
        path = str(baskets)
        reader = "read_parquet" if path.endswith((".parquet", ".pq")) else "read_csv_auto"
        columns = [row[0] for row in con.execute(
            f"DESCRIBE SELECT * FROM {reader}(?)", [path]).fetchall()]
        missing = [c for c in (basket_col, item_col) if c not in columns]
        if missing:
            raise ValueError(f"no column {', '.join(map(repr, missing))} in {path}; "
                             f"its columns are {', '.join(columns)}")
        con.execute(
            f"CREATE TABLE bi AS SELECT DISTINCT CAST({_q(basket_col)} AS VARCHAR) AS b, "
            f"CAST({_q(item_col)} AS VARCHAR) AS i FROM {reader}(?) "
            f"WHERE {_q(basket_col)} IS NOT NULL AND {_q(item_col)} IS NOT NULL", [path])
        return
    import pyarrow as pa

    rows = list(baskets)
    table = pa.table({"b": [str(b) for b, _ in rows], "i": [str(i) for _, i in rows]})
    con.register("incoming", table)
    con.execute("CREATE TABLE bi AS SELECT DISTINCT b, i FROM incoming")
    con.unregister("incoming")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _mine(con: duckdb.DuckDBPyConnection, min_support: float, min_confidence: float,
          max_len: int) -> list[Rule]:
    total = con.execute("SELECT count(DISTINCT b) FROM bi").fetchone()[0]  # type: ignore[index]
    if not total:
        return []
    min_count = max(1, int(-(-min_support * total // 1)))  # ceil
    con.execute("CREATE TABLE f1 AS SELECT i AS i1, count(*) AS n FROM bi GROUP BY i "
                "HAVING count(*) >= ?", [min_count])
    # baskets keep only frequent items from here on
    con.execute("CREATE TABLE fb AS SELECT bi.b, bi.i FROM bi JOIN f1 ON bi.i = f1.i1")
    counts: dict[tuple[str, ...], int] = {
        (i,): n for i, n in con.execute("SELECT i1, n FROM f1").fetchall()}
    level = 1
    while level < max_len:
        level += 1
        cols = [f"i{k}" for k in range(1, level + 1)]
        prev = f"f{level - 1}"
        # extend each frequent (k-1)-itemset in a basket by a larger frequent item
        joins = " AND ".join(f"x{k}.b = x1.b" for k in range(2, level + 1))
        picks = ", ".join(f"x{k}.i AS i{k}" for k in range(1, level + 1))
        order = " AND ".join(f"x{k}.i < x{k + 1}.i" for k in range(1, level))
        tables = ", ".join(f"fb x{k}" for k in range(1, level + 1))
        prefix = " AND ".join(f"p.i{k} = c.i{k}" for k in range(1, level))
        con.execute(
            f"CREATE TABLE f{level} AS SELECT c.*, count(*) AS n FROM ("
            f"  SELECT {picks} FROM {tables} WHERE {joins} AND {order}) c "
            f"SEMI JOIN {prev} p ON {prefix} "
            f"GROUP BY ALL HAVING count(*) >= ?", [min_count])
        found = con.execute(f"SELECT {', '.join(cols)}, n FROM f{level}").fetchall()
        if not found:
            break
        for row in found:
            counts[tuple(row[:-1])] = row[-1]
    rules = []
    for itemset, n in counts.items():
        if len(itemset) < 2:
            continue
        for consequent in itemset:
            antecedent = tuple(i for i in itemset if i != consequent)
            confidence = n / counts[antecedent]
            if confidence < min_confidence:
                continue
            lift = confidence / (counts[(consequent,)] / total)
            rules.append(Rule(antecedent, (consequent,), n / total, confidence, lift, n))
    rules.sort(key=lambda r: (-r.lift, -r.confidence, r.antecedents, r.consequents))
    return rules


def baskets_from_events(events: Iterable[Any], purchase_signals: Iterable[str] = ("purchased",),
                        vocabulary: Any = None) -> Iterator[tuple[str, str]]:
    """(basket, item) pairs from purchase events: Segment's `products` list (by `name`, else
    `product_id`), or a single-item order's own name or product id."""
    from ..events import Vocabulary

    vocab = vocabulary or Vocabulary()
    wanted = set(purchase_signals)
    for n, ev in enumerate(events):
        if not wanted & set(vocab.signals_for(ev)):
            continue
        props = ev.properties
        basket = str(props.get("order_id") or ev.message_id or n)
        products = props.get("products")
        lines = products if isinstance(products, list) else [props]
        for line in lines:
            if isinstance(line, dict):
                item = line.get("name") or line.get("product_id") or line.get("sku")
                if item:
                    yield basket, str(item)
