"""The Typer application; each command lives in its own module."""

from __future__ import annotations

import typer

from . import (
    _bench,
    _clv,
    _demo,
    _events,
    _ingest,
    _intent,
    _profile,
    _rfm,
    _rules,
    _scenarios,
    _segments,
    _serve,
    _simulate,
)

app = typer.Typer(
    name="intently",
    help="Real-time behavioral marketing: events in, golden records and intent out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(_demo.demo)
app.command("serve")(_serve.serve_cmd)
app.command("ingest")(_ingest.ingest)
app.command("profile")(_profile.profile)
app.command("simulate")(_simulate.simulate)
app.command("bench")(_bench.bench)
app.add_typer(_intent.app, name="intent")
app.add_typer(_segments.app, name="segments")
app.add_typer(_rules.app, name="rules")
app.add_typer(_rfm.app, name="rfm")
app.add_typer(_clv.app, name="clv")
app.add_typer(_scenarios.app, name="scenarios")
app.add_typer(_events.app, name="events")
