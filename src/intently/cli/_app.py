"""The Typer application; each command lives in its own module, imported only when that
command runs (or shows its own help): `intently --help` loads none of them."""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.core
from typer.main import get_command

COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute: a function or a Typer of subcommands, one-line help)
    "demo": ("_demo", "demo", "Run the live demo on the embedded store."),
    "serve": ("_serve", "serve_cmd", "Serve the Segment-compatible API (/v1/track, /v1/batch, "
              "...) and profile reads."),
    "ingest": ("_ingest", "ingest", "Ingest a file of events."),
    "profile": ("_profile", "profile", "Show a customer's golden record: identities, "
                "aggregates, journey and timeline."),
    "simulate": ("_simulate", "simulate", "Simulate a shop: researchers, impulse buyers, cart "
                 "abandoners, bargain hunters, ..."),
    "bench": ("_bench", "bench", "Measure the pipeline, its storage floor, HTTP ingest, "
              "latency and memory per profile."),
    "doctor": ("_doctor", "doctor", "Check the store's health: log position, checkpoint lag, "
               "events set aside, outbox backlog."),
    "intent": ("_intent", "app", "Purchase intent: train the online model, evaluate it."),
    "segments": ("_segments", "app", "Live segments: rules over the golden record and "
                 "behavior."),
    "rules": ("_rules", "app", "Basket rules: which items are bought together."),
    "rfm": ("_rfm", "app", "RFM: recency, frequency and monetary scores and named segments."),
    "clv": ("_clv", "app", "Customer lifetime value: purchase frequency, being alive, spend."),
    "scenarios": ("_scenarios", "app", "Scenarios: triggers, steps, channels, holdouts and "
                  "their results."),
    "events": ("_events", "app", "The event log: events set aside."),
    "privacy": ("_privacy", "app", "Privacy: erasure, export, suppression and the privacy "
                "journal."),
    "users": ("_users", "app", "Dashboard users: names, roles and passwords."),
}


def load(name: str) -> Any:
    """The click command behind `intently NAME`, its module imported now."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        group: Any = get_command(holder)
        return group.commands[name]  # type: ignore[no-any-return]
    holder.command(name)(target)
    return get_command(holder)  # a lone command is the command itself


class _LazyGroup(typer.core.TyperGroup):
    """Lists commands from `COMMANDS` without importing them; imports one when it is run."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # the group's own help: names and one line each
            return typer.core.TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])
        return load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="intently",
    cls=_LazyGroup,
    help="Real-time behavioral marketing: events in, golden records and intent out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help at the top: Rich's formatter alone costs 0.15 s to load
)


@app.callback()
def _root() -> None:
    """Real-time behavioral marketing: events in, golden records and intent out."""
