"""Settings: one dataclass, read from `intently.toml`, then `INTENTLY_*` environment variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    db: str = "intently.db"
    """Store URL or SQLite path (`INTENTLY_DB`)."""
    stream: str | None = None
    """Cluster mode: the NATS JetStream server(s) that hold the event log
    (`nats://host:4222`, `INTENTLY_STREAM`); `db` must then be a `postgresql://` URL."""
    stream_subject: str = "intently.events"
    """Subjects of the stream: `<this>.<partition>`."""
    stream_replicas: int = 1
    """JetStream replicas of the stream when it is created (3 in production)."""
    stream_max_age_days: float = 7.0
    """How long the stream keeps events (0: until the disk limit). PostgreSQL is the system
    of record; the stream carries events to their partition. This bounds how long an erased
    person's events stay in the stream, and how long a partition may go unowned before its
    events age out."""
    stream_dedupe_seconds: float = 600.0
    """JetStream drops a message whose `Nats-Msg-Id` it saw this recently (the partition's
    owner drops later repeats by message id too)."""
    stream_ack_seconds: float = 5.0
    """How long a gateway waits for JetStream's acknowledgement before it answers 503."""
    cache: str | None = None
    """Cluster mode: the Redis that holds records for real-time decisions
    (`redis://host:6379/0`, `INTENTLY_CACHE`); gateways answer `/v1/decide` from it."""
    partitions: int = 64
    """Virtual partitions of a cluster, fixed when it first starts."""
    lease_seconds: float = 5.0
    """A worker's lease on a partition; renewed three times per lease, taken over by another
    worker once it runs out (so a dead worker's partitions move within about this long)."""
    identity_move_seconds: float = 60.0
    """Cluster mode: an identity key moves to another partition at most once this often (a
    device shared by several signed-in people would otherwise move back and forth); joins
    within the window leave the records apart, and are logged."""
    log_level: str = "info"
    """debug, info, warning, error (`INTENTLY_LOG_LEVEL`)."""
    log_format: str = "text"
    """`text`, or `json` for one JSON object per line (`INTENTLY_LOG_FORMAT`)."""
    write_keys: tuple[str, ...] = ()
    """Keys accepted on the Segment endpoints (`INTENTLY_WRITE_KEYS`, comma-separated).
    With none, writes are refused."""
    admin_keys: tuple[str, ...] = ()
    """Keys for everything but ingestion: the dashboard, reads, changes, privacy requests
    (`INTENTLY_ADMIN_KEYS`)."""
    marketer_keys: tuple[str, ...] = ()
    """Keys for marketers (`INTENTLY_MARKETER_KEYS`): the dashboard and reads, and changes to
    segments, scenarios, offers and models; not the privacy routes."""
    viewer_keys: tuple[str, ...] = ()
    """Keys for viewers (`INTENTLY_VIEWER_KEYS`): the dashboard and reads, no changes."""
    read_keys: tuple[str, ...] = ()
    """Keys for a point of sale (`INTENTLY_READ_KEYS`): real-time decisions for a named
    customer (`POST /v1/decide` with a user id or email). A write key decides for an
    anonymous receipt only: it ships in web pages, and must not tell who an email belongs
    to. Admin keys may decide too."""
    privacy_keys: tuple[str, ...] = ()
    """Keys for the privacy routes alone (`/v1/privacy/*`: erase, export, suppress;
    `INTENTLY_PRIVACY_KEYS`), for a data-protection team that needs nothing else. Admin keys
    may use those routes too."""
    durability: str = "fsync"
    """`fsync`: an acknowledged event survives power loss; `process`: only a process crash."""
    session_gap_minutes: float = 30.0
    journey_gap_hours: float = 24.0
    return_gap_hours: float = 1.0
    vocabulary: str | None = None
    """A TOML or JSON file of signal rules (see `intently.events.signals`)."""
    cache_profiles: int = 200_000
    """Golden records kept hot in memory."""
    builtin_segments: bool = False
    """Run the built-in segments (about 5 µs an event together: `segments_builtin_us` in
    `intently bench`; the realistic figures run with them on)."""
    checkpoint_events: int = 500_000
    """A changed record is written at most this many events after it changed..."""
    checkpoint_seconds: float = 10.0
    """...and at most this long after. Recovery replays at most what came since."""
    checkpoint_records: int = 1_000
    """Most records written with one group commit (an incremental checkpoint: the oldest
    changes first); bounds the pause it adds to the commit."""
    batch_size: int = 2_000
    """Events per group commit."""
    wakes_per_commit: int = 2_000
    """Most timers fired in one group commit: a batch in which more fall due (a quiet night's
    held sends, windows closing together) is committed in parts, in the same order; bounds
    the pause such a burst adds."""
    future_tolerance_seconds: float = 300.0
    """An event dated more than this after its receive time (a device's wrong clock, a typo,
    an attacker) is filed at its receive time instead; the claimed time stays in the stored
    event. Timers never fire ahead of the receive time."""
    max_event_bytes: int = 32 * 1024
    """Largest accepted event (Segment's limit)."""
    max_batch_bytes: int = 500 * 1024
    """Largest accepted request body (Segment's limit)."""
    max_request_bytes: int = 1024 * 1024
    """Largest request body on the other routes (definitions, decisions, analytics)."""
    base_url: str = "http://127.0.0.1:8000"
    """Where this server is reached from outside: tracking and unsubscribe links use it."""
    message_cap_per_day: int = 3
    """Scenario messages per customer in any 24 hours, over all scenarios (higher priority
    scenarios get the room first)."""
    max_message_age_hours: float = 24.0
    """A message not delivered this long after its due time expires instead (a replay of last
    year's log does not email last year's cart reminders)."""
    smtp_host: str | None = None
    """Email goes out through this SMTP server; with none, email is written to the log only."""
    smtp_port: int = 25
    smtp_from: str = "Intently <noreply@localhost>"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    sms_url: str | None = None
    """The SMS provider's HTTP endpoint (JSON POST: to, body); with none, SMS goes to the log."""
    sms_token: str | None = None
    push_url: str | None = None
    """The push provider's HTTP endpoint (JSON POST: token, title, body)."""
    push_token: str | None = None
    lead_url: str | None = None
    """Sales leads are POSTed here (signed like webhooks); with none, they go to the log."""
    retention_raw_days: float = 0.0
    """After this many days, drop `retention_raw_fields` from stored events (0: keep them).
    Applied hourly by the server, or now by `intently privacy retain`."""
    retention_raw_fields: tuple[str, ...] = (
        "context.ip", "context.userAgent", "context.userAgentData", "context.location",
        "context.device.advertisingId")
    """Dotted paths dropped from events older than `retention_raw_days`."""
    retention_events_days: float = 0.0
    """After this many days, delete stored events (0: keep them). Records keep what the
    events built (aggregates, scores, segments); timelines, exports and rebuilds from the log
    lose them."""
    encryption_keys: tuple[str, ...] = ()
    """Master keys that keep personal data sealed at rest (`INTENTLY_ENCRYPTION_KEYS`,
    comma-separated; `intently privacy new-key` makes one): records, event payloads, messages,
    and emails and phones in the identity table. The first wraps the store's data keys; keep
    a former key after it until a writing engine has opened the store once (it rewraps them).
    Empty: nothing is sealed. A key lost is the data lost."""
    outbound_allow: tuple[str, ...] = ()
    """Where webhooks and the SMS, push and lead providers may be sent
    (`INTENTLY_OUTBOUND_ALLOW`, comma-separated): host names, `*.example.com`, addresses or
    networks (`10.0.0.0/8`). Empty: any public host. Loopback, link-local and private
    addresses are refused unless named here (a scenario's author must not reach the
    machine's own services)."""
    webhook_secret: str | None = None
    """HMAC key for webhook signatures (default: the store's own secret)."""

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """`intently.toml` (or `path`), then the environment, then `overrides` (CLI flags)."""
        values: dict[str, Any] = {}
        file = Path(path) if path else Path("intently.toml")
        if file.exists():
            values.update(tomllib.loads(file.read_text()).get("intently", {}))
        names = {f.name: f for f in fields(cls)}
        for name in names:
            env = os.environ.get(f"INTENTLY_{name.upper()}")
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(cls(), **{k: _coerce(names[k].type, v) for k, v in values.items()})


def _coerce(kind: Any, value: Any) -> Any:
    kind = str(kind)
    if kind.startswith("tuple") and isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if kind.startswith("tuple"):
        return tuple(value)
    if kind == "bool" and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int" and isinstance(value, str):
        return int(value)
    if kind == "float" and isinstance(value, str):
        return float(value)
    return value
