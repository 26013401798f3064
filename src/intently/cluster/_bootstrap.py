"""The cluster's shared schema, made once by whichever role starts first: definitions, meta
(the signing secret, the number of partitions, the envelope of data keys), leases and the
directory of homes."""

from __future__ import annotations

from .._errors import SealingError
from ..config import Settings
from ..store import SEALING_META, new_envelope
from ..store.postgres import PostgresStore, split_url
from ._layout import partition_schema
from ._leases import Leases


def bootstrap(settings: Settings) -> None:
    """The cluster's shared schema (definitions, meta, leases) and its signing secret, made
    once by whichever role starts first."""
    conninfo, base = split_url(settings.db)
    shared = PostgresStore(settings.db, writer_lock=False)
    try:
        shared._run("INSERT INTO meta (key, value) VALUES ('secret', md5(random()::text) || "
                    "md5(random()::text)) ON CONFLICT (key) DO NOTHING")
        row = shared._one("SELECT value FROM meta WHERE key = 'partitions'")
        if row is None:
            shared._run("INSERT INTO meta (key, value) VALUES ('partitions', %s) "
                        "ON CONFLICT (key) DO NOTHING", (str(settings.partitions),))
        elif int(row[0]) != settings.partitions:
            raise ValueError(f"this cluster has {row[0]} partitions; the setting says "
                             f"{settings.partitions} (partitions are fixed when a cluster "
                             "starts)")
        if settings.encryption_keys:
            _seal_from_the_start(shared, base, settings)
    finally:
        shared.close()
    leases = Leases(conninfo, base, settings.partitions, settings.lease_seconds)
    try:
        leases.create()
    finally:
        leases.close()


def _seal_from_the_start(shared: PostgresStore, base: str, settings: Settings) -> None:
    """Make the cluster's envelope (one set of data keys for every partition) once, atomically:
    roles starting together must not each make their own. A cluster that already holds data
    written in the clear is refused: sealing it is `rotate-key --data`'s, on one store."""
    if shared.get_meta(SEALING_META) is not None:
        return
    schemas = [partition_schema(base, p) for p in range(settings.partitions)]
    found = [s for (s,) in shared._rows(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' "
        "AND table_schema = ANY(%s)", (schemas,))]
    if any(shared._one(f"SELECT EXISTS (SELECT 1 FROM {s}.events)")[0]  # type: ignore[index]
           for s in found):
        raise SealingError("this cluster holds personal data written without encryption; "
                           "sealing it in place is not built (start a sealed cluster and "
                           "replay the events into it)")
    shared._run("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                (SEALING_META, new_envelope(settings.encryption_keys)))
