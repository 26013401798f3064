"""The rule language: text and JSON forms of one AST, positioned errors, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import T0, track
from intently import Engine
from intently.profiles import Profile
from intently.segments import (
    And,
    Compare,
    Did,
    Node,
    Not,
    Or,
    RuleError,
    compile_rule,
    evaluate,
    field_value,
    from_json,
    parse,
    to_json,
    to_text,
)
from intently.segments._ast import COUNT_OPS, OPS
from intently.segments._text import KEYWORDS
from intently.store import MemoryStore
from intently.testing import Shop

# -- property: the text and JSON forms agree, both ways
idents = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS)
fields = st.builds(lambda a, b: f"{a}.{b}" if b else a, idents, st.one_of(st.none(), idents))
scalars = st.one_of(st.text(max_size=8), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans())
values = st.one_of(scalars, st.lists(scalars, min_size=1, max_size=3).map(tuple))
compares = st.builds(Compare, fields, st.sampled_from(OPS), values)
dids = st.builds(Did, st.one_of(idents, st.text(min_size=1, max_size=10)),
                 st.sampled_from(COUNT_OPS), st.integers(0, 50),
                 st.lists(compares, max_size=2).map(tuple),
                 st.one_of(st.none(), st.integers(0, 10**7)))
rules = st.recursive(
    st.one_of(compares, dids),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        inner.map(Not)),
    max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(rules)
def test_text_and_json_forms_round_trip_and_agree(rule) -> None:  # type: ignore[no-untyped-def]
    text = to_text(rule)
    assert parse(text) == rule
    assert from_json(to_json(rule)) == rule
    assert to_json(parse(text)) == to_json(rule)


def test_the_example_from_the_issue() -> None:
    rule = parse('did viewed_product with category = "shoes" at least 3 times in 7d '
                 "and no purchased in 30d")
    assert rule == And((Did("viewed_product", ">=", 3, (Compare("category", "=", "shoes"),),
                            7 * 86400), Did("purchased", "=", 0, (), 30 * 86400)))
    assert to_text(rule) == ('did viewed_product with category = "shoes" at least 3 times in 7d'
                             " and no purchased in 30d")
    assert to_json(rule)["and"][1] == {"event": "purchased", "op": "=", "count": 0,
                                       "within_s": 2592000}


def test_precedence_and_parentheses() -> None:
    assert parse("a = 1 or b = 2 and c = 3") == Or((Compare("a", "=", 1), And((
        Compare("b", "=", 2), Compare("c", "=", 3)))))
    assert parse("(a = 1 or b = 2) and not c in [1, 2]") == And((
        Or((Compare("a", "=", 1), Compare("b", "=", 2))), Not(Compare("c", "in", (1, 2)))))
    assert parse('did "Loan Calculator Used" exactly 2 times in 12h') == Did(
        "Loan Calculator Used", "=", 2, (), 12 * 3600)


@pytest.mark.parametrize(("text", "position", "expected"), [
    ("orders >", 8, "a value"),
    ("orders >= 2 and", 15, "a field"),
    ("(orders = 1", 11, '")"'),
    ("did", 3, "a signal or event name"),
    ("did viewed_product in 7days", 22, "a duration"),
    ("did x at many 3 times", 9, '"least" or "most"'),
    ("orders ~ 3", 7, None),
    ("orders 3", 7, "an operator"),
    ("orders = 1 orders = 2", 11, '"and", "or"'),
])
def test_parse_errors_give_the_position_and_what_was_expected(
        text: str, position: int, expected: str | None) -> None:
    with pytest.raises(RuleError) as info:
        parse(text)
    assert info.value.position == position
    if expected:
        assert expected in (info.value.expected or "")
    assert f"position {position}" in str(info.value)


@pytest.mark.parametrize(("data", "path"), [
    ({"and": []}, "$.and"),
    ({"or": [{"field": "a", "op": "=", "value": 1}, {"field": "b", "op": "~", "value": 1}]},
     "$.or[1].op"),
    ({"not": {"event": "x", "count": -1}}, "$.not.count"),
    ({"event": "x", "where": [{"field": "", "op": "=", "value": 1}]}, "$.where[0].field"),
    ({"field": "a", "op": "="}, "$.value"),
    ({"what": 1}, "$"),
    ([1], "$"),
])
def test_json_errors_name_the_path(data: object, path: str) -> None:
    with pytest.raises(RuleError) as info:
        from_json(data)
    assert info.value.path == path


class _Ctx:
    def __init__(self, engine: Engine, who: str, counts: dict[str, int] | None = None) -> None:
        self.p = engine.profile(who)
        self.now = engine.clock.now()
        self.counts = counts or {}

    def value(self, field: str) -> object:
        return field_value(self.p, field, self.now)

    def count(self, condition: Did) -> int:
        return self.counts.get(condition.name, 0)


def test_evaluation_reads_the_golden_record(engine: Engine) -> None:
    engine.process({"type": "identify", "userId": "u", "timestamp": T0,
                    "traits": {"city": "Oslo", "vip": True, "consents": {"email": True}}})
    engine.process(track("Product Viewed", user="u", at=T0 + 60, category="shoes"))
    engine.process(track("Order Completed", user="u", at=T0 + 120, revenue=80.0))
    engine.clock.set(T0 + 3 * 86400)  # type: ignore[attr-defined]
    ctx = _Ctx(engine, "u", {"purchased": 1})
    for text, want in [
        ('traits.city = "Oslo" and traits.vip = true', True),
        ("orders >= 1 and revenue > 50 and average_order = 80.0", True),
        ("days_since_last_order > 2.5 and days_since_last_order < 3.5", True),
        ("categories.shoes >= 1 and signals.purchased = 1", True),
        ("consents.email = true and not consents.sms = true", True),
        ("traits.missing = 1", False),
        ("traits.missing != 1", True),
        ('traits.city in ["Oslo", "Bergen"]', True),
        ('traits.city contains "sl"', True),
        ('orders > "1"', False),  # a number never compares with a string
        ("did purchased and no refunded", True),
        ("did purchased at least 2 times", False),
        ("intent >= 0 and intent <= 1", True),
    ]:
        assert evaluate(parse(text), ctx) is want, text


# -- property: a compiled rule answers as the syntax tree does
_READ = ("orders", "revenue", "events", "sessions", "intent", "cart_value", "average_order",
         "days_since_last_order", "days_since_last_seen", "days_since_first_seen", "key_action",
         "cluster", "tz", "user_id", "segments", "traits.plan", "traits.vip", "consents.email",
         "categories.shoes", "signals.viewed_product", "tags.lifecycle", "tags.price_sensitivity",
         "nothing.here", "unknown")
_VALUES = st.one_of(st.integers(-3, 200), st.floats(-1, 400, allow_nan=False), st.booleans(),
                    st.sampled_from(["gold", "shoes", "Product Viewed", "new", "UTC"]),
                    st.lists(st.sampled_from([0, 1, "gold", "new"]), min_size=1,
                             max_size=3).map(tuple))
_ATOMS = st.one_of(
    st.builds(Compare, st.sampled_from(_READ), st.sampled_from(OPS), _VALUES),
    st.builds(Did, st.sampled_from(["viewed_product", "purchased", "Product Viewed", "never"]),
              st.sampled_from(COUNT_OPS), st.integers(0, 4)))
_RULES = st.recursive(_ATOMS, lambda inner: st.one_of(
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    inner.map(Not)), max_leaves=5)


class _Record:
    """The interpreter's view of a record: its fields, and its own counters for `did`."""

    def __init__(self, p: Profile, now: float) -> None:
        self.p, self.now = p, now

    def value(self, field: str) -> object:
        return field_value(self.p, field, self.now)

    def count(self, condition: Did) -> int:
        counts = self.p.counts
        return counts.get("s:" + condition.name, 0) or counts.get("e:" + condition.name, 0)


@pytest.fixture(scope="module")
def shop_records() -> list[Profile]:
    engine = Engine(MemoryStore())
    for ev in Shop(users=40, days=20, seed=5).events():
        engine.process(ev)
    engine.process({"type": "identify", "userId": "t", "timestamp": T0,
                    "traits": {"plan": "gold", "vip": True, "consents": {"email": True}}})
    return [*engine.hot_profiles(), Profile(id="blank")]


@settings(max_examples=300, deadline=None)
@given(rule=_RULES, later=st.sampled_from([0.0, 3600.0, 40 * 86400.0]))
def test_a_compiled_rule_answers_as_the_syntax_tree(shop_records: list[Profile], rule: Node,
                                                    later: float) -> None:
    check = compile_rule(rule).check
    for p in shop_records:
        now = (p.last_seen or T0) + later
        assert check(p, now, p.windows or {}) is evaluate(rule, _Record(p, now)), (
            to_text(rule), p.id)
