"""`intently simulate`: write the shop simulator's traffic to a file for `intently ingest`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..testing import Shop
from ._common import JSON, emit_json, err


def simulate(
    out: Path = typer.Option(..., "--out", help="File to write: .jsonl (Segment) or .csv (flat)"),
    users: int = typer.Option(1000, help="Customers"),
    days: float = typer.Option(30.0, help="Days of traffic"),
    seed: int = typer.Option(7, help="Random seed (same seed, same shop)"),
    truth: Path = typer.Option(None, help="Also write ground truth (archetypes) as JSON"),
    as_json: bool = JSON,
) -> None:
    """Simulate a shop: researchers, impulse buyers, cart abandoners, bargain hunters, ..."""
    shop = Shop(users=users, days=days, seed=seed)
    n = shop.write(out)
    if truth:
        import json

        rows = {c.user_id: shop.truth()[c.user_id] for c in shop.customers}
        truth.write_text(json.dumps(rows, indent=1))
    if as_json:
        emit_json({"events": n, "users": users, "file": str(out)})
    else:
        err.print(f"wrote {n} events from {users} customers to {out}")
