"""Where state lives: the ports (`EventLog`, `StateStore`, `Outbox`, `Catalog`, `ReadModels`,
`PrivacyStore`),
their typed rows, and the backends, chosen by URL from a registry:

    sqlite:///path/to/intently.db   (or just a path)   embedded, durable
    postgresql://user@host/db?schema=NAME              PostgreSQL (`intently[cluster]`)
    memory://                                          tests and throwaway runs

Any of them may keep personal data sealed at rest (`sealed`: records, payloads, messages and
email and phone keys encrypted under keys from the settings).

A backend registers its scheme with `register`; `open_store` finds it by the URL's scheme.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._keyring import META as SEALING_META
from ._keyring import Keyring, SealingError, new_envelope, new_master_key
from ._ports import (
    Catalog,
    EventLog,
    LogTransaction,
    Outbox,
    PrivacyStore,
    ReadModels,
    StateStore,
    Store,
)
from ._rotation import Rotation, rotate_keys, sealing_store
from ._rows import (
    Account,
    AccountMember,
    AccountUpdate,
    Backlog,
    Erasure,
    JournalChain,
    JournalCount,
    JournalEntry,
    LogRow,
    Member,
    Merge,
    Movement,
    OutboxItem,
    OutboxRow,
    PrivacyRequest,
    RecordEvent,
    SegmentChange,
    SetAside,
    StoredEvent,
    Subject,
    Suppression,
)
from ._sealed import SealedStore, keyring, opened, sealed, sealed_error
from .memory import MemoryStore
from .sqlite import SQLiteStore

Opener = Callable[[str, str, bool], Store]
"""(what follows `scheme://`, durability, read-only) -> a store"""

_BACKENDS: dict[str, Opener] = {}


def register(scheme: str, opener: Opener) -> None:
    """Make `scheme://...` URLs open with `opener`."""
    _BACKENDS[scheme] = opener


def schemes() -> list[str]:
    return sorted(_BACKENDS)


def open_store(url: str | Path, *, durability: str = "fsync", readonly: bool = False) -> Store:
    """Open a backend by URL; a plain path is a SQLite file."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "sqlite", "/" + text
    opener = _BACKENDS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in schemes())
        raise ValueError(f"unknown store {scheme!r}; use a file path or one of {known}")
    return opener(rest, durability, readonly)


def _sqlite(rest: str, durability: str, readonly: bool) -> Store:
    if not rest.startswith("/"):
        raise ValueError("a SQLite URL is sqlite:///PATH (three slashes)")
    return SQLiteStore(rest[1:], durability=durability, readonly=readonly)


def _postgresql(rest: str, durability: str, readonly: bool) -> Store:
    try:
        from .postgres import PostgresStore  # psycopg is imported only when a URL asks for it
    except ImportError as exc:
        raise ValueError(f"a postgresql:// store needs psycopg ({exc}): "
                         "pip install 'intently[cluster]'") from None
    return PostgresStore(f"postgresql://{rest}", durability=durability, readonly=readonly)


register("sqlite", _sqlite)
register("postgresql", _postgresql)
register("postgres", _postgresql)
register("memory", lambda rest, durability, readonly: MemoryStore())

__all__ = [
    "SEALING_META",
    "Account",
    "AccountMember",
    "AccountUpdate",
    "Backlog",
    "Catalog",
    "Erasure",
    "EventLog",
    "JournalChain",
    "JournalCount",
    "JournalEntry",
    "Keyring",
    "LogRow",
    "LogTransaction",
    "Member",
    "MemoryStore",
    "Merge",
    "Movement",
    "Outbox",
    "OutboxItem",
    "OutboxRow",
    "PrivacyRequest",
    "PrivacyStore",
    "ReadModels",
    "RecordEvent",
    "Rotation",
    "SQLiteStore",
    "SealedStore",
    "SealingError",
    "SegmentChange",
    "SetAside",
    "StateStore",
    "Store",
    "StoredEvent",
    "Subject",
    "Suppression",
    "keyring",
    "new_envelope",
    "new_master_key",
    "open_store",
    "opened",
    "register",
    "rotate_keys",
    "schemes",
    "sealed",
    "sealed_error",
    "sealing_store",
]
