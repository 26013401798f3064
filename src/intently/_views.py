"""JSON views shared by the API and the CLI, so both show a customer the same way."""

from __future__ import annotations

from typing import Any

import msgspec

from .engine import Engine
from .events import isoformat
from .profiles import Profile, consents_of, item_of, tags
from .store import OutboxItem


def _key_item(p: Profile, events: list[Any]) -> str | None:
    """The item of the key event, from the timeline (the record keeps no item id)."""
    for ev in events:
        if ev.ts == p.key_ts and ev.properties:
            return item_of(ev.properties)
    return None


def _time(ts: float) -> str | None:
    return isoformat(ts) if ts else None


def profile_view(engine: Engine, profile: Profile, timeline: int = 50) -> dict[str, Any]:
    """The golden record with readable times, derived RFM facts and the event timeline."""
    p = profile
    events = engine.timeline(p, timeline) if timeline else []
    chain = [{"signal": s, "at": _time(t)} for s, t in zip(p.chain, p.chain_ts, strict=True)]
    return {
        "id": p.id,
        "user_id": p.user_id,
        "anonymous_ids": p.anonymous_ids,
        "identities": p.identities,
        "traits": p.traits,
        "consents": p.consents,
        "timezone": p.tz,
        "first_seen": _time(p.first_seen),
        "last_seen": _time(p.last_seen),
        "aggregates": {
            "events": p.events,
            "sessions": p.sessions,
            "orders": p.orders,
            "revenue": round(p.revenue, 2),
            "average_order": round(p.revenue / p.orders, 2) if p.orders else 0.0,
            "first_order": _time(p.first_order),
            "last_order": _time(p.last_order),
            "days_since_last_order": (
                round((engine.clock.now() - p.last_order) / 86400, 1) if p.last_order else None
            ),
            "event_counts": p.event_counts,
            "signal_counts": p.signal_counts,
            "categories": dict(sorted(p.categories.items(), key=lambda kv: -kv[1])),
            "channels": dict(sorted(p.channels.items(), key=lambda kv: -kv[1])),
            "active_hours": {str(h): n for h, n in enumerate(p.hours) if n},
        },
        "journey": {
            "started": _time(p.journey_start),
            "entry_point": p.entry.to_dict(),
            "chain": chain,
            "intent": round(p.intent, 4),
            "key_action": {"signal": p.key_action, "at": _time(p.key_ts),
                           "raised_intent_by": round(p.key_delta, 4),
                           "detail": p.key_detail(_key_item(p, events))}
            if p.key_action else None,
            "items": p.items.to_dict() if p.items is not None else [],
            "intent_model": engine.intent.model.version if engine.intent else None,
            "cluster": _cluster(engine, p.cluster),
        },
        "tags": tags(p, engine.clock.now()),
        "rfm": _rfm(engine, p),
        "clv": engine.clv.score(p, engine.clock.now()) if engine.clv is not None else None,
        "segments": list(p.segments),
        "accounts": engine.accounts_of(p),
        "merges": [{"from": m.from_id, "reason": m.reason, "at": _time(m.ts)}
                   for m in engine.merges(p)],
        "timeline": [_event_view(ev) for ev in events],
    }


def message_view(m: OutboxItem, body: bool = False) -> dict[str, Any]:
    """An outbox message with its delivery state (and, with `body`, its text)."""
    msg = msgspec.json.decode(m.body)
    view = {"id": m.id, "scenario": m.scenario, "customer": m.profile_id, "arm": m.arm,
            "channel": m.channel, "to": msg.get("to"), "subject": msg.get("subject", ""),
            "due": m.due, "status": m.status, "attempts": m.attempts, "error": m.error}
    if body:
        view["body"] = msg.get("body", "")
    return view


def account_view(engine: Engine, account_id: str) -> dict[str, Any]:
    """An account's own traits and its members, each resolved to today's record."""
    account = engine.account(account_id)
    return {
        "id": account.id,
        "traits": account.traits,
        "first_seen": _time(account.first_seen),
        "last_seen": _time(account.last_seen),
        "members": [{"id": p.id, "user_id": p.user_id, "name": p.traits.get("name"),
                     "email": p.traits.get("email")} for p in engine.members(account)],
    }


def _rfm(engine: Engine, p: Profile) -> dict[str, Any] | None:
    if engine.rfm is None:
        return None
    score = engine.rfm.score(p, engine.clock.now())
    return score.to_json() if score else None


def _cluster(engine: Engine, name: str | None) -> dict[str, Any] | None:
    if name is None or engine.clusters is None:
        return None
    found = next((c for c in engine.clusters.clusters if c.name == name), None)
    return {"name": name, "description": found.description if found else None,
            "conversion_rate": found.conversion_rate if found else None}


def _event_view(ev: Any) -> dict[str, Any]:
    data = msgspec.to_builtins(ev)
    data["at"] = _time(ev.ts)
    data["received_at"] = _time(ev.received_at)
    data.pop("ts", None)
    data.pop("intentlyReceivedAt", None)
    return data


def set_aside_view(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    """Accepted events the pipeline failed on, newest first, with their errors."""
    out = []
    for seq, ts, received, payload, error, at in engine.set_aside_events(limit):
        try:
            event: Any = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            event = payload.decode("utf-8", "replace")
        out.append({"seq": seq, "at": _time(ts), "received_at": _time(received),
                    "set_aside_at": _time(at), "error": error, "event": event})
    return out


EXPORT_FORMAT = "intently.export/1"
_EVERYTHING = 1 << 40  # "no limit" for reads of one person's rows


def export_view(engine: Engine, profile: Profile) -> dict[str, Any]:
    """Everything held on one person, machine-readable (access and portability): the golden
    record with its scores and their explanations, every event (oldest first), the consent
    changes among them, segments, accounts and merges, and every message with its outcome."""
    view = profile_view(engine, profile, timeline=0)
    view.pop("timeline", None)
    events = engine.timeline(profile, _EVERYTHING)[::-1]
    ids = [profile.id, *profile.merged_from]
    reads = engine.read_models
    messages = [m for pid in ids for m in reads.outbox(_EVERYTHING, profile_id=pid)]
    # the record's own rows from its chain; those of records merged into it by a scan
    journal = [j for pid in ids for j in reads.journal(
        pid, limit=_EVERYTHING, heads=[int(profile.journal_head)] if pid == profile.id else ())]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": isoformat(engine.clock.now()),
        "customer": view,
        "consent_history": [{"at": _time(ev.ts), "event": ev.event or ev.type,
                             "message_id": ev.message_id, "consents": granted}
                            for ev in events if (granted := consents_of(ev))],
        "events": [_event_view(ev) for ev in events],
        "messages": sorted((message_view(m, body=True) for m in messages),
                           key=lambda m: (m["due"], m["id"])),
        "journal": [{"scenario": j.scenario, "arm": j.arm, "kind": j.kind, "at": _time(j.ts),
                     "value": j.value, "ref": j.ref}
                    for j in sorted(journal, key=lambda j: (j.ts, j.id))],
    }


def merged_export(bundles: list[dict[str, Any]]) -> dict[str, Any]:
    """One bundle from the exports of a person's records in several places (a cluster's
    partitions, where records were kept apart): the record with the most events first as
    `customer`, the others in `other_records`, and every event, consent change, message and
    journal row of them all, in time order."""
    ordered = sorted(bundles, key=lambda b: -len(b["events"]))
    merged = {**ordered[0], "other_records": [b["customer"] for b in ordered[1:]]}
    for part, key in (("events", "at"), ("consent_history", "at"), ("messages", "due"),
                      ("journal", "at")):
        merged[part] = sorted((x for b in ordered for x in b[part]), key=lambda x: x[key])
    return merged

