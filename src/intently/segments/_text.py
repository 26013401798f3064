"""The rule language's text form: parsing with positioned errors, and printing.

    did viewed_product with category = "shoes" at least 3 times in 7d and no purchased in 30d
    orders >= 2 and (cluster = "add to cart, view products" or intent > 0.5)
    not traits.vip = true

Grammar (keywords are lower case):

    rule    := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" rule ")" | did | compare
    did     := ("did" | "no") NAME ("with" compare)* [count] ["in" DURATION]
    count   := ("at least" | "at most" | "exactly") INT ("time" | "times")
    compare := FIELD OP VALUE          OP: = != >= <= > < in contains
    VALUE   := STRING | NUMBER | true | false | "[" VALUE ("," VALUE)* "]"
    DURATION:= INT ("s" | "m" | "h" | "d" | "w")
    NAME    := identifier | STRING     FIELD := identifier ("." identifier)*
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ._ast import OPS, And, Compare, Did, Node, Not, Or, Value
from ._errors import RuleError

KEYWORDS = frozenset({"and", "or", "not", "did", "no", "with", "at", "least", "most", "exactly",
                      "time", "times", "in", "contains", "true", "false"})
UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PRINTED_UNITS = ("d", "h", "m", "s")  # 7d reads better than 1w
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<duration>\d+[smhdw])(?![A-Za-z0-9_.])
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<punct>[()\[\],])
""", re.X)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise RuleError(f"unexpected character {text[pos]!r}", position=pos,
                            expected="a name, a value, an operator or a parenthesis")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text in words

    def expect_word(self, word: str) -> None:
        if not self.word(word):
            self.fail(f'"{word}"')
        self.take()

    def fail(self, expected: str) -> None:
        tok = self.tok
        found = "end of the rule" if tok.kind == "end" else repr(tok.text)
        raise RuleError(f"unexpected {found}", position=tok.pos, expected=expected)

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            self.fail('"and", "or" or the end of the rule')
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.word("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while self.word("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.word("not"):
            self.take()
            return Not(self.unary())
        if self.tok.text == "(" and self.tok.kind == "punct":
            self.take()
            node = self.or_()
            if self.tok.text != ")":
                self.fail('")"')
            self.take()
            return node
        if self.word("did", "no"):
            return self.did()
        return self.compare()

    def did(self) -> Did:
        negative = self.take().text == "no"
        tok = self.tok
        if tok.kind == "string":
            name = json.loads(self.take().text)
        elif tok.kind == "word" and tok.text not in KEYWORDS and "." not in tok.text:
            name = self.take().text
        else:
            self.fail("a signal or event name")
        where = []
        while self.word("with"):
            self.take()
            where.append(self.compare())
        op, count = ("=", 0) if negative else (">=", 1)
        if not negative and self.word("at", "exactly"):
            if self.take().text == "at":
                if not self.word("least", "most"):
                    self.fail('"least" or "most"')
                op = ">=" if self.take().text == "least" else "<="
            else:
                op = "="
            if self.tok.kind != "number" or not self.tok.text.isdigit():
                self.fail("a whole number of times")
            count = int(self.take().text)
            if not self.word("time", "times"):
                self.fail('"times"')
            self.take()
        within = None
        if self.word("in"):
            self.take()
            if self.tok.kind != "duration":
                self.fail("a duration such as 30m, 12h, 7d or 2w")
            text = self.take().text
            within = int(text[:-1]) * UNITS[text[-1]]
        return Did(name, op, count, tuple(where), within)

    def compare(self) -> Compare:
        tok = self.tok
        if tok.kind != "word" or tok.text in KEYWORDS:
            self.fail('a field (such as orders or traits.city), "did", "no", "not" or "("')
        field = self.take().text
        if self.tok.kind == "op" or self.word("in", "contains"):
            op = self.take().text
        else:
            self.fail("an operator: " + " ".join(OPS))
        return Compare(field, op, self.value())

    def value(self) -> Value:
        tok = self.tok
        if tok.kind == "string":
            return json.loads(self.take().text)  # type: ignore[no-any-return]
        if tok.kind == "number":
            text = self.take().text
            return float(text) if any(c in text for c in ".eE") else int(text)
        if self.word("true", "false"):
            return self.take().text == "true"
        if tok.kind == "punct" and tok.text == "[":
            self.take()
            items = [self.value()]
            while self.tok.text == "," and self.tok.kind == "punct":
                self.take()
                items.append(self.value())
            if self.tok.text != "]":
                self.fail('"," or "]"')
            self.take()
            return tuple(items)
        self.fail('a value: a "string", a number, true, false or a [list]')
        raise AssertionError  # unreachable


def parse(text: str) -> Node:
    """Parse the text form; a RuleError says where and what was expected."""
    return _Parser(text).parse()


# -- printing
def to_text(node: Node) -> str:
    """The canonical text form: `parse(to_text(rule)) == rule`."""
    if isinstance(node, Compare):
        return f"{node.field} {node.op} {_value(node.value)}"
    if isinstance(node, Did):
        negative = node.op == "=" and node.count == 0
        parts = ["no" if negative else "did", _name(node.name)]
        parts += [f"with {to_text(c)}" for c in node.where]
        if not negative and (node.op, node.count) != (">=", 1):
            lead = {">=": "at least", "<=": "at most", "=": "exactly"}[node.op]
            parts.append(f"{lead} {node.count} {'time' if node.count == 1 else 'times'}")
        if node.within_s is not None:
            parts.append(f"in {_duration(node.within_s)}")
        return " ".join(parts)
    if isinstance(node, Not):
        inner = to_text(node.item)
        return f"not ({inner})" if isinstance(node.item, And | Or) else f"not {inner}"
    word = " and " if isinstance(node, And) else " or "
    return word.join(f"({to_text(i)})" if isinstance(i, And | Or) else to_text(i)
                     for i in node.items)


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def _name(name: str) -> str:
    return name if _IDENT.match(name) and name not in KEYWORDS else json.dumps(
        name, ensure_ascii=False)


def _duration(seconds: int) -> str:
    for unit in _PRINTED_UNITS:
        size = UNITS[unit]
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

