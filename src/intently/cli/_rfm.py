"""`intently rfm`: fit the RFM cut points on the store's customers and show the grid."""

from __future__ import annotations

import typer

from ._common import CONFIG, DB, JSON, cli_actor, emit_json, err, fail, open_engine

app = typer.Typer(help="RFM: recency, frequency and monetary scores and named segments.",
                  no_args_is_help=True)


@app.command("update")
def update(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Fit the RFM quintile cut points on every customer who bought, as of now, and save them:
    profiles show their RFM score and segment from then on."""
    from ..engine import audited, rfm_state, rfm_view, update_rfm

    engine = open_engine(db, config, intent_model=False)
    try:
        model = audited(engine, cli_actor(), "rfm.update", "rfm", rfm_state, update_rfm)
    except ValueError as exc:
        fail(str(exc))
        return
    finally:
        engine.close()
    data = rfm_view(model)
    if as_json:
        emit_json(data)
        return
    err.print(f"RFM fitted on {model.customers} customers; cut points: recency (days) "
              f"{model.recency_days}, orders {model.frequency}, revenue {model.monetary}")
    for name, n in model.metrics["segments"].items():
        err.print(f"  {name:<18} {n}")
