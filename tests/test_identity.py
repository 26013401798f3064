from __future__ import annotations

from conftest import T0, track
from intently import Engine


def test_anonymous_history_merges_into_the_known_customer(engine: Engine) -> None:
    engine.process(track("Product Viewed", user="u1", at=T0 - 86400 * 3, category="shoes"))
    engine.process(track("Product Viewed", anon="device-1", at=T0, category="bags"))
    engine.process(track("Product Added", anon="device-1", at=T0 + 60))
    # signs in on the device: the anonymous record folds into the known one
    engine.process({"type": "identify", "userId": "u1", "anonymousId": "device-1",
                    "timestamp": T0 + 120, "traits": {"email": "Ann@Example.com"}})
    p = engine.profile("u1")
    assert p.events == 4
    assert p.categories == {"shoes": 1, "bags": 1}
    assert set(p.identities) == {"u:u1", "a:device-1", "e:ann@example.com", "m:device-1"}
    assert p.merged_from == ("device-1",)
    assert engine.profile("device-1") is p  # any identifier finds the record
    assert engine.profile("ann@example.com") is p
    assert engine.find("device-1") is p  # the old record id finds the merged record
    assert p.chain == ["viewed_product", "added_to_cart"]  # the live journey is the device's
    merges = engine.merges(p)
    assert [(m.into_id, m.from_id, m.reason) for m in merges] == [("u1", "device-1",
                                                                   "identify")]
    timeline = engine.timeline(p)
    assert [ev.action for ev in timeline] == ["Identify", "Product Added", "Product Viewed",
                                              "Product Viewed"]


def test_first_identify_on_an_anonymous_record_keeps_it(engine: Engine) -> None:
    engine.process(track("Product Viewed", anon="a1", at=T0))
    engine.process({"type": "identify", "userId": "u9", "anonymousId": "a1", "timestamp": T0})
    p = engine.profile("u9")
    assert p.id == "a1" and p.user_id == "u9" and p.events == 2
    engine.process(track("Product Viewed", user="u9", at=T0 + 1))
    assert engine.profile("a1").events == 3


def test_two_user_ids_are_never_merged(engine: Engine) -> None:
    engine.process(track("Product Viewed", user="alice", anon="shared-tablet", at=T0))
    engine.process(track("Product Viewed", user="bob", anon="shared-tablet", at=T0 + 60))
    alice, bob = engine.profile("alice"), engine.profile("bob")
    assert alice is not bob
    assert alice.events == 1 and bob.events == 1
    # the device follows whoever used it last
    assert engine.profile("shared-tablet") is bob


def test_alias_merges_previous_id_into_user(engine: Engine) -> None:
    engine.process(track("Product Viewed", anon="old-cookie", at=T0))
    engine.process(track("Product Viewed", user="u2", at=T0 + 10))
    engine.process({"type": "alias", "previousId": "old-cookie", "userId": "u2",
                    "timestamp": T0 + 20})
    p = engine.profile("u2")
    assert p.id == "u2" and p.events == 3 and "old-cookie" in p.merged_from


def test_shared_email_merges_an_anonymous_record(engine: Engine) -> None:
    engine.process({"type": "identify", "userId": "u3", "timestamp": T0,
                    "traits": {"email": "c@x.com"}})
    engine.process({"type": "identify", "anonymousId": "newsletter-click", "timestamp": T0 + 5,
                    "traits": {"email": "C@X.com "}})
    p = engine.profile("u3")
    assert p.events == 2 and "newsletter-click" in p.anonymous_ids


def test_a_user_id_equal_to_someone_elses_anonymous_id_gets_its_own_record(
        engine: Engine) -> None:
    engine.process(track("Product Viewed", anon="123", at=T0))
    engine.process(track("Product Viewed", user="123", at=T0 + 1))
    assert engine.state.lookup("a:123") != engine.state.lookup("u:123")
    assert engine.profile("u-123").user_id == "123"


def test_merges_survive_a_restart(db_path) -> None:
    from conftest import sqlite_engine

    eng = sqlite_engine(db_path)
    eng.process(track("Product Viewed", anon="d", at=T0))
    eng.process({"type": "identify", "userId": "u", "anonymousId": "d", "timestamp": T0 + 1})
    eng.process(track("Product Viewed", user="u", at=T0 + 2))
    eng.process({"type": "identify", "userId": "u", "anonymousId": "d2", "timestamp": T0 + 3})
    eng.process(track("Product Viewed", anon="d2", at=T0 + 4))
    eng.close()
    again = sqlite_engine(db_path)
    p = again.profile("d2")
    assert p.events == 5 and p.user_id == "u"
    assert len(again.timeline(p)) == 5
    again.close()


def test_a_phone_is_found_as_typed_and_as_filed(engine: Engine) -> None:
    """Look-ups (CLI, API, dashboard, erasure) shape a phone as ingestion files it."""
    from intently.events import as_event
    from intently.profiles import find_keys, identity_keys, phone_key

    engine.process({"type": "identify", "userId": "u1", "timestamp": T0,
                    "traits": {"phone": "+46 70-123 45 67"}})
    for typed in ("+46 70-123 45 67", "+46701234567", "+46 70 123 45 67"):
        found = engine.find(typed)
        assert found is not None and found.id == "u1", typed
    ev = as_event({"type": "identify", "userId": "u1", "traits": {"phone": "+1 (555) 010"}})
    assert identity_keys(ev) == [phone_key("+1 (555) 010")] == ["p:+1555010"]
    assert phone_key("+1 555 010") in find_keys("+1 555 010")


def test_a_phone_without_digits_joins_no_one(engine: Engine) -> None:
    """"n/a" or "-" in a phone field is no key: records that typed it stay apart (once they
    all shared the key `p:` and merged into one)."""
    for anon in ("form-1", "form-2"):
        engine.process({"type": "identify", "anonymousId": anon, "timestamp": T0,
                        "traits": {"phone": "n/a"}})
    assert engine.profile("form-1") is not engine.profile("form-2")
    assert not [k for k in engine.profile("form-1").identities if k.startswith("p:")]
