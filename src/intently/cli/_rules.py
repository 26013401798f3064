"""`intently rules mine`: association rules from the store's purchases or a basket file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ._common import CONFIG, DB, JSON, cli_actor, emit_json, fail, open_engine, settings

if TYPE_CHECKING:
    from ..engine import Engine

app = typer.Typer(help="Basket rules: which items are bought together.", no_args_is_help=True)


@app.command("mine")
def mine(
    baskets_file: Path = typer.Argument(None, exists=True, dir_okay=False,
                                        help="CSV or Parquet with one row per basket item "
                                             "[default: the purchases in the store]"),
    basket_col: str = typer.Option("basket", help="Column with the basket (order) id"),
    item_col: str = typer.Option("item", help="Column with the item"),
    min_support: float = typer.Option(0.01, help="Share of baskets an itemset must be in"),
    min_confidence: float = typer.Option(0.5, help="P(consequent | antecedents) at least"),
    max_len: int = typer.Option(3, help="Largest itemset (antecedents + consequent)"),
    limit: int = typer.Option(100, help="Show at most this many rules (by lift)"),
    save: bool = typer.Option(False, "--save", help="Keep the rules in the store: real-time "
                              "decisions (POST /v1/decide) then offer their consequents"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Mine association rules (frequent itemsets counted with DuckDB)."""
    import duckdb

    from ..analytics import mine_rules

    try:
        if baskets_file is not None:
            rows = [r.to_json() for r in mine_rules(
                baskets_file, min_support=min_support, min_confidence=min_confidence,
                max_len=max_len, basket_col=basket_col, item_col=item_col)]
        else:
            from ..engine import audited, mine_stored_rules, offers_state

            engine = open_engine(db, config, readonly=not save, intent_model=False)
            try:
                def mine(e: Engine) -> list[dict[str, Any]]:
                    return mine_stored_rules(e, min_support=min_support,
                                             min_confidence=min_confidence, max_len=max_len,
                                             save=save)

                rows = (audited(engine, cli_actor(), "rules.mine", "rules", offers_state, mine)
                        if save else mine(engine))
            finally:
                engine.close()
    except ValueError as exc:
        fail(str(exc))
        return
    except duckdb.Error as exc:  # an unreadable file
        fail(f"cannot read baskets: {exc}")
        return
    if save and baskets_file is not None:
        from ..decisions import save_offer_rules
        from ..store import open_store

        s = settings(config, db=db)
        store = open_store(s.db, durability=s.durability)
        save_offer_rules(store, rows, kind="basket_rules")
        store.close()
    shown = rows[:limit]
    if as_json:
        emit_json(shown)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("if a customer buys", "they also buy", "support", "confidence", "lift",
                  title=f"{len(rows)} rules (showing {len(shown)})")
    for r in shown:
        table.add_row(" + ".join(r["antecedents"]), ", ".join(r["consequents"]),
                      f"{r['support']:.4f}", f"{r['confidence']:.2f}", f"{r['lift']:.1f}")
    Console().print(table)

