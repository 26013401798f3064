"""Erasure, suppression and export on the embedded engine, checked where it matters: every byte
of the SQLite file and its WAL, what other people keep, and what is ingested next."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import T0, sqlite_engine
from intently import Engine, ManualClock
from intently.engine._privacy import candidate_keys
from intently.scenarios import Scenario, ready_made
from intently.store import SQLiteStore
from intently.testing import Shop

ANN = {"user": "ann-7781", "anon": "dev-ann-5f2c", "email": "Ann.Lindqvist@example.org",
       "phone": "+46 70 123 45 67", "name": "Ann Lindqvist", "street": "Rosenlundsgatan 12"}
PERSONAL = [ANN["user"], ANN["anon"], ANN["email"], ANN["email"].lower(), "+46701234567",
            ANN["name"], ANN["street"]]


def _mid() -> str:
    return str(uuid.uuid4())


def ann_events(t0: float) -> list[dict[str, Any]]:
    """Ann signs up on one device, browses anonymously on another, logs in there (the
    anonymous record merges into hers), buys, joins her company's account, and changes a
    consent."""
    anon, user = ANN["anon"], ANN["user"]
    evs: list[dict[str, Any]] = [
        {"type": "track", "userId": user, "event": "Product Viewed", "timestamp": t0 - 3600,
         "messageId": _mid(), "properties": {"product_id": "sku-2", "price": 12.0}},
        {"type": "page", "anonymousId": anon, "name": "Home", "timestamp": t0,
         "messageId": _mid(), "context": {"ip": "203.0.113.77"}},
        {"type": "track", "anonymousId": anon, "event": "Product Viewed", "timestamp": t0 + 60,
         "messageId": _mid(), "properties": {"product_id": "sku-1", "price": 30.0}},
        {"type": "identify", "anonymousId": anon, "userId": user, "timestamp": t0 + 120,
         "messageId": _mid(),
         "traits": {"email": ANN["email"], "phone": ANN["phone"], "name": ANN["name"],
                    "first_name": "Ann", "address": {"street": ANN["street"]},
                    "consents": {"email": True}}},
        {"type": "track", "userId": user, "event": "Signed Up", "timestamp": t0 + 130,
         "messageId": _mid()},
        {"type": "track", "userId": user, "event": "Order Completed", "timestamp": t0 + 600,
         "messageId": _mid(), "properties": {"order_id": _mid(), "revenue": 59.0,
                                             "products": [{"product_id": "sku-1"}]}},
        {"type": "group", "userId": user, "groupId": "acme-ab", "timestamp": t0 + 700,
         "messageId": _mid(), "traits": {"name": "Acme AB"}},
        {"type": "track", "userId": user, "event": "Consent Updated", "timestamp": t0 + 800,
         "messageId": _mid(), "properties": {"channel": "sms", "granted": False}},
    ]
    return evs


WELCOME = Scenario.from_dict({
    "name": "welcome", "trigger": {"event": "Signed Up"}, "holdout": 0,
    "policies": {"quiet_hours": None},
    "steps": [{"send": {"channel": "email", "subject": "Welcome",
                        "body": "Hello {{ customer.first_name }}"}}]})


def _engine(path: Path, clock: ManualClock) -> Engine:
    engine = sqlite_engine(path, clock, builtin_segments=True, batch_size=100,
                           checkpoint_events=400)
    for s in [*ready_made().values(), WELCOME]:
        engine.put_scenario(s)
    return engine


def _stored_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
                    if p.exists())


def _found(blob: bytes, values: list[str]) -> list[str]:
    return [v for v in values if v.encode() in blob or v.encode("utf-16-le") in blob]


@pytest.fixture
def shop() -> list[dict[str, Any]]:
    return list(Shop(users=120, days=6, seed=11).events())


def test_erasure_leaves_no_byte_of_the_person_and_keeps_everyone_else(
        tmp_path: Path, shop: list[dict[str, Any]]) -> None:
    db = tmp_path / "shop.db"
    clock = ManualClock(T0)
    engine = _engine(db, clock)
    half = len(shop) // 2
    engine.process_many(shop[:half])
    engine.process_many(ann_events(T0 - 86400))
    engine.process_many(shop[half:])
    engine.tick(T0 + 3600)
    ann = engine.profile(ANN["user"])
    assert ann.merged_from and ann.orders == 1
    assert engine.read_models.outbox(profile_id=ann.id)  # the welcome email is queued
    others = {p.id: (p.events, p.orders, p.revenue) for p in engine.all_profiles()
              if p.id != ann.id}
    events_before = engine.events_stored()
    engine.settle()
    assert _found(_stored_bytes(db), PERSONAL)  # the search finds what is there

    report = engine.privacy.erase(ANN["email"], actor="dpo@shop")
    erased = report.erased
    assert report.found and erased.records == 1 and erased.events == len(ann_events(0))
    assert erased.messages >= 1 and erased.journal >= 1 and erased.merges >= 1
    assert report.suppressed >= 4
    assert engine.find(ANN["user"]) is None and engine.find(ANN["anon"]) is None
    assert engine.events_stored() == events_before - erased.events
    engine.close()

    assert _found(_stored_bytes(db), PERSONAL) == []

    again = _engine(db, clock)
    assert {p.id: (p.events, p.orders, p.revenue) for p in again.all_profiles()} == others
    account = again.account("acme-ab")
    assert account.members == [] and account.traits == {"name": "Acme AB"}
    assert again.find(ANN["email"]) is None
    (entry,) = again.privacy.log()
    assert entry.verb == "erase" and entry.actor == "dpo@shop" and entry.id == report.request
    assert not _found(repr(entry).encode(), PERSONAL)

    # The next event of an erased identifier is dropped, counted, and not stored.
    later = [{"type": "track", "userId": ANN["user"], "event": "Product Viewed",
              "timestamp": T0 + 7200, "messageId": _mid()},
             {"type": "identify", "anonymousId": "new-device", "timestamp": T0 + 7300,
              "messageId": _mid(), "traits": {"email": ANN["email"].upper()}},
             {"type": "track", "userId": "someone-else", "event": "Product Viewed",
              "timestamp": T0 + 7400, "messageId": _mid()}]
    result = again.process_many(later)
    assert (result.accepted, result.suppressed, result.duplicates) == (1, 2, 0)
    assert again.privacy.suppressed_events == 2
    assert again.find(ANN["user"]) is None and again.find("new-device") is None
    again.close()
    assert _found(_stored_bytes(db), PERSONAL) == []
    reopened = _engine(db, clock)
    assert reopened.privacy.suppressed_events == 2  # the count survives a restart
    reopened.close()


def test_an_erasure_of_someone_unknown_still_suppresses_them(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "x.db")
    report = engine.privacy.erase("nobody@example.org", actor="dpo", vacuum=True)
    assert not report.found and report.erased.records == report.erased.events == 0
    assert report.suppressed == len(candidate_keys("nobody@example.org"))
    result = engine.process_many([{"type": "identify", "anonymousId": "d1", "timestamp": T0,
                                   "traits": {"email": "nobody@example.org"}}])
    assert result.suppressed == 1 and engine.events_stored() == 0
    engine.close()


def test_suppress_without_deleting_then_lift(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "s.db")
    engine.process_many([{"type": "track", "userId": "u1", "event": "A", "timestamp": T0}])
    assert engine.privacy.suppress("u1", actor="admin") >= 1
    dropped = engine.process_many([{"type": "track", "userId": "u1", "event": "B",
                                    "timestamp": T0 + 1}])
    assert dropped.suppressed == 1 and engine.profile("u1").events == 1  # kept, not deleted
    assert engine.privacy.unsuppress("u1", actor="admin") >= 1
    taken = engine.process_many([{"type": "track", "userId": "u1", "event": "C",
                                  "timestamp": T0 + 2}])
    assert taken.accepted == 1 and engine.profile("u1").events == 2
    assert [r.verb for r in engine.privacy.log()] == ["unsuppress", "suppress"]
    engine.close()


def test_the_export_holds_every_event_the_person_sent(tmp_path: Path,
                                                      shop: list[dict[str, Any]]) -> None:
    from intently._views import export_view

    engine = _engine(tmp_path / "e.db", ManualClock(T0))
    mine = ann_events(T0 - 86400)
    engine.process_many(shop[: len(shop) // 3])
    engine.process_many(mine)
    engine.process_many(shop[len(shop) // 3:])
    engine.tick(T0 + 3600)
    bundle = export_view(engine, engine.profile(ANN["anon"]))
    assert bundle["format"] == "intently.export/1"
    assert sorted(e["messageId"] for e in bundle["events"]) == sorted(
        e["messageId"] for e in mine)
    assert [e["at"] for e in bundle["events"]] == sorted(e["at"] for e in bundle["events"])
    customer = bundle["customer"]
    assert customer["user_id"] == ANN["user"] and customer["traits"]["email"] == ANN["email"]
    assert customer["consents"]["sms"] is False
    assert [c["consents"] for c in bundle["consent_history"]] == [{"email": True},
                                                                  {"sms": False}]
    assert {"intent", "key_action", "cluster", "entry_point"} <= customer["journey"].keys()
    assert customer["segments"] == list(engine.profile(ANN["user"]).segments)
    assert "welcome" in {m["scenario"] for m in bundle["messages"]}
    assert all(m["customer"] == customer["id"] for m in bundle["messages"])
    assert {j["scenario"] for j in bundle["journal"]} >= {"welcome"}
    engine.close()


def test_retention_drops_raw_fields_then_old_events(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    clock = ManualClock(T0 - 40 * 86400)
    engine = sqlite_engine(db, clock, retention_raw_days=30.0, retention_events_days=90.0)
    old = [{"type": "page", "anonymousId": f"d{i}", "name": "Home", "messageId": _mid(),
            "timestamp": T0 - 40 * 86400, "context": {
                "ip": f"198.51.100.{i}", "userAgent": "Mozilla/5.0 (X11; Weird 9.9)",
                "locale": "sv-SE"}} for i in range(30)]
    engine.process_many(old)
    clock.set(T0)
    fresh = [{**ev, "messageId": _mid(), "timestamp": T0,
              "context": {"ip": "192.0.2.200", "locale": "sv-SE"}} for ev in old[:5]]
    engine.process_many(fresh)
    engine.checkpoint()
    report = engine.privacy.retention.apply()
    assert (report.scrubbed, report.dropped) == (30, 0)
    assert engine.privacy.retention.apply().scrubbed == 0  # incremental: nothing new aged
    events = [ev for ev in engine.logged()]
    assert len(events) == 35 and all(ev.context.get("locale") == "sv-SE" for ev in events)
    assert [ev.context.get("ip") for ev in events if "ip" in ev.context] == ["192.0.2.200"] * 5
    engine.close()
    blob = _stored_bytes(db)
    assert b"198.51.100." not in blob and b"Weird 9.9" not in blob and b"192.0.2.200" in blob

    clock.set(T0 + 60 * 86400)  # the old events are now 100 days old, the fresh ones 60
    again = sqlite_engine(db, clock, retention_raw_days=30.0, retention_events_days=90.0)
    assert again.privacy.retention.apply().dropped == 30
    assert again.events_stored() == 5 and again.profile("d1").events == 2  # records keep all
    again.close()


def test_retention_reads_the_log_only_up_to_where_it_was_received_in_time(
        tmp_path: Path) -> None:
    """The hourly drop reads the log from its start up to its first mark received at the
    cutoff or later (`store._marks`), not all of it: an event a clock set back filed after
    that mark waits until the mark is old enough too."""
    store = SQLiteStore(tmp_path / "r.db")
    for seq, received in ((1, 1_000.0), (2, 5_000.0), (3, 1_500.0), (4, 9_000.0)):
        with store.transaction() as tx:  # minutes apart: each commit marks the log
            tx.claim([f"m{seq}"], seq)
            tx.append([(seq, "c", 1.0, received, b"{}", 0)])
    assert store.drop_events(received_before=2_000.0, up_to_seq=4) == 1  # 3 waits
    assert [r.seq for page in store.read_log(0) for r in page] == [2, 3, 4]
    assert store.drop_events(received_before=6_000.0, up_to_seq=4) == 2
    assert [r.seq for page in store.read_log(0) for r in page] == [4]
    store.close()


def test_changes_from_the_cli_are_audited(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from intently.cli import app

    db = str(tmp_path / "cli.db")
    run = CliRunner()
    assert run.invoke(app, ["segments", "add", "vip", "orders >= 2", "--db", db]).exit_code == 0
    typo = run.invoke(app, ["segments", "add", "vip", "ordrs >= 3", "--db", db])
    assert typo.exit_code != 0 and "unknown field 'ordrs'" in typo.output
    assert run.invoke(app, ["segments", "add", "vip", "orders >= 3", "--db", db]).exit_code == 0
    assert run.invoke(app, ["segments", "remove", "vip", "--db", db]).exit_code == 0
    assert run.invoke(app, ["scenarios", "add", "--ready-made", "abandoned_cart", "--db", db]
                      ).exit_code == 0
    out = run.invoke(app, ["privacy", "log", "--json", "--db", db])
    rows = json.loads(out.stdout)["requests"]
    assert [(r["verb"], r["subject"]) for r in rows] == [
        ("scenario.put", "abandoned_cart"), ("segment.delete", "vip"), ("segment.put", "vip"),
        ("segment.put", "vip")]
    assert all(r["actor"].startswith("cli:") for r in rows)
    put = json.loads(rows[2]["detail"])
    assert put["before"]["text"] == "orders >= 2" and put["after"]["text"] == "orders >= 3"
