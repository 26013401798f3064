"""`intently users ...`: the dashboard's users (name, role, password). Each verb writes to the
store, so it runs where no server holds the store (or use the server's `/v1/users` routes)."""

from __future__ import annotations

import sys

import typer

from .._errors import IntentlyError
from ._common import CONFIG, DB, JSON, cli_actor, emit_json, err, fail, guard, open_engine

app = typer.Typer(help="Dashboard users: names, roles and passwords.", no_args_is_help=True)

NAME = typer.Argument(..., help="The user's name (letters, digits and . _ @ + -)")
STDIN = typer.Option(False, "--password-stdin", help="Read the password from standard input "
                     "(one line) instead of asking for it")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Again", hide_input=True) != first:
        fail("the two passwords differ")
    return str(first)


def _put(name: str, role: str | None, password: str | None, db: str, config: str) -> None:
    engine = open_engine(db, config, must_exist=False, intent_model=False)
    try:
        user = engine.users.put(name, actor=cli_actor(), role=role, password=password)
    except IntentlyError as exc:
        guard(exc)
        return
    finally:
        engine.close()
    err.print(f"{user.name}: {user.role}" + (" (their sessions ended)" if user.generation > 1
                                              else ""))


@app.command("add")
def add(name: str = NAME,
        role: str = typer.Option(..., help="viewer, marketer or admin"),
        password_stdin: bool = STDIN, db: str = DB, config: str = CONFIG) -> None:
    """Add a user, or give an existing one a new role and password."""
    _put(name, role, _password(password_stdin), db, config)


@app.command("set")
def set_(name: str = NAME,
         role: str | None = typer.Option(None, help="viewer, marketer or admin"),
         password: bool = typer.Option(False, "--password", help="Set a new password"),
         password_stdin: bool = STDIN, db: str = DB, config: str = CONFIG) -> None:
    """Change a user's role or password; their open sessions end."""
    if role is None and not (password or password_stdin):
        fail("say what changes: --role, --password or --password-stdin")
    _put(name, role, _password(password_stdin) if password or password_stdin else None,
         db, config)


@app.command("remove")
def remove(name: str = NAME, db: str = DB, config: str = CONFIG) -> None:
    """Remove a user; their open sessions end."""
    engine = open_engine(db, config, must_exist=True, intent_model=False)
    try:
        engine.users.remove(name, actor=cli_actor())
    except IntentlyError as exc:
        guard(exc)
        return
    finally:
        engine.close()
    err.print(f"{name} removed")


@app.command("list")
def list_(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """The users, with their roles (never a password)."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    try:
        users = [u.view() for u in engine.users.list()]
    finally:
        engine.close()
    if as_json:
        emit_json(users)
        return
    from ..events import isoformat

    for u in users:
        typer.echo(f"{u['name']}\t{u['role']}\tsince {isoformat(u['since'])}")
