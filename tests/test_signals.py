from __future__ import annotations

from pathlib import Path

from conftest import T0, track
from intently import Engine, SignalRule, Vocabulary
from intently.engine import as_event


def signals(vocab: Vocabulary, event: dict) -> tuple[str, ...]:
    return vocab.signals_for(as_event(event))


def test_segment_ecommerce_and_export_names_work_out_of_the_box() -> None:
    v = Vocabulary()
    assert signals(v, track("Product Viewed", user="u")) == ("viewed_product",)
    assert signals(v, track("product_viewed", user="u")) == ("viewed_product",)
    assert signals(v, track("view", user="u")) == ("viewed_product",)  # REES46
    assert signals(v, track("cart", user="u")) == ("added_to_cart",)
    assert signals(v, track("Order Completed", user="u")) == ("purchased",)
    assert signals(v, track("Video Playback Started", user="u")) == ("viewed_video",)
    assert signals(v, track("Email Opened", user="u")) == ("opened_email",)
    assert signals(v, {"type": "identify", "userId": "u"}) == ()


def test_unknown_events_become_their_own_signal() -> None:
    assert signals(Vocabulary(), track("Loan Calculator Used", user="u")) == (
        "loan_calculator_used",)
    strict = Vocabulary(unknown_events_are_signals=False)
    assert signals(strict, track("Loan Calculator Used", user="u")) == ()


def test_property_conditions_pick_the_signal() -> None:
    v = Vocabulary()
    specs = {"type": "page", "anonymousId": "a", "properties": {"section": "specs"}}
    assert signals(v, specs) == ("viewed_specs",)
    assert signals(v, {"type": "page", "anonymousId": "a"}) == ("viewed_page",)
    custom = Vocabulary([SignalRule("high_value_view", ("Product Viewed",),
                                     {"properties.tier": ["gold", "platinum"]})])
    assert signals(custom, track("Product Viewed", user="u", tier="gold")) == ("high_value_view",)
    assert signals(custom, track("Product Viewed", user="u", tier="tin")) == ("product_viewed",)


def test_vocabulary_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "signals.toml"
    path.write_text('return_gap_hours = 2\n[[rules]]\nsignal = "used_calculator"\n'
                    'events = ["Loan Calculator Used"]\n')
    v = Vocabulary.from_file(path)
    assert v.return_gap_s == 7200
    assert signals(v, track("Loan Calculator Used", user="u")) == ("used_calculator",)
    assert signals(v, track("Product Viewed", user="u")) == ("viewed_product",)


def test_derived_signals_return_after_gap_and_second_spec_view(engine: Engine) -> None:
    first = engine.process(track("Product Specs Viewed", user="u", at=T0))
    assert first is not None and first.signals == ("viewed_specs",)
    soon = engine.process(track("Product Viewed", user="u", at=T0 + 600))
    assert soon is not None and soon.signals == ("viewed_product",)
    back = engine.process(track("Product Specs Viewed", user="u", at=T0 + 5 * 3600))
    assert back is not None
    assert back.signals == ("returned_after_gap", "viewed_specs", "repeated_spec_view")
    assert back.profile.chain == ["viewed_specs", "viewed_product", "returned_after_gap",
                                  "viewed_specs", "repeated_spec_view"]
    assert back.profile.signal_count("repeated_spec_view") == 1
