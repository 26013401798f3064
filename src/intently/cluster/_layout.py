"""Where a cluster keeps what: partitions, subjects, schemas.

A customer's events go to one of `partitions` fixed virtual partitions, by a hash of the
customer's key: the anonymous id when the event has one (a device's whole journey, before and
after sign-in, stays together), else the user id. The partition is in the subject, so a worker
reads only its own; each partition's state lives in a PostgreSQL schema of its own, next to the
cluster's shared schema (definitions, leases, workers).
"""

from __future__ import annotations

import zlib

from ..events import Event

STREAM = "INTENTLY"
"""The JetStream stream that holds every accepted event."""


def partition_of(event: Event, partitions: int) -> int:
    """The partition of an event's customer (stable across releases: CRC-32 of the key)."""
    key = event.anonymous_id if event.anonymous_id not in (None, "") else event.user_id
    if key in (None, ""):
        key = event.message_id or ""
    return zlib.crc32(str(key).encode()) % partitions


def subject(prefix: str, partition: int) -> str:
    return f"{prefix}.{partition}"


def partition_schema(base: str, partition: int) -> str:
    """The schema that holds one partition's state: `intently_p007` for partition 7."""
    return f"{base}_p{partition:03d}"
