"""The `Catalog` contract, every backend: definitions, versioned models, meta."""

from __future__ import annotations

from intently.store import Store


def test_segments_are_kept_replaced_and_deleted(store: Store) -> None:
    assert store.load_segments() == {}
    store.save_segment("a", b"1")
    store.save_segment("b", b"2")
    store.save_segment("a", b"3")
    assert store.load_segments() == {"a": b"3", "b": b"2"}
    store.save_segment("b", None)
    store.save_segment("nothing", None)
    assert store.load_segments() == {"a": b"3"}


def test_scenarios_are_kept_replaced_and_deleted(store: Store) -> None:
    assert store.load_scenarios() == {}
    store.save_scenario("a", b"1")
    store.save_scenario("b", b"2")
    store.save_scenario("a", b"3")
    assert store.load_scenarios() == {"a": b"3", "b": b"2"}
    store.save_scenario("b", None)
    assert store.load_scenarios() == {"a": b"3"}


def test_models_are_versioned_and_the_newest_is_in_use(store: Store) -> None:
    assert store.load_model("intent") is None and store.model_versions("intent") == []
    store.save_model("intent", "v1", b"one")
    store.save_model("other", "x", b"x")
    store.save_model("intent", "v2", b"two")
    assert store.load_model("intent") == b"two"
    assert store.model_versions("intent") == ["v1", "v2"]


def test_meta_values(store: Store) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2"
