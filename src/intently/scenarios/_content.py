"""Message content: Jinja2 templates over the customer's record, plus tracking.

Templates run in Jinja2's sandbox (a template is data a marketer writes, not code). HTML
bodies get their links wrapped for click tracking and an open pixel; every message carries a
signed unsubscribe link. Tokens are HMAC-signed, so a link cannot be forged to unsubscribe
someone else or to redirect to a URL the message did not contain.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple

import msgspec
from jinja2 import StrictUndefined, TemplateError, meta, nodes

from .._errors import ValidationError
from ..profiles import Profile, tags
from ._sandbox import BudgetEnvironment

_HREF = re.compile(r'href="(https?://[^"]+)"')
_encode = msgspec.json.Encoder().encode


def _shipped_templates() -> dict[str, str]:
    folder = resources.files("intently.scenarios") / "templates"
    return {f.name.rsplit(".", 1)[0]: f.read_text() for f in folder.iterdir()
            if f.name.endswith((".html", ".txt"))}


@dataclass(frozen=True)
class Tracker:
    """Signs and reads the tokens of tracking, click and unsubscribe links."""

    base_url: str
    secret: bytes
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the key's HMAC state, computed once: each link copies it (`HMAC.copy`), a third
        # quicker than keying a new one
        object.__setattr__(self, "_keyed", hmac.new(self.secret, digestmod="sha256"))

    def _sign(self, body: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(body)
        return mac.digest()[:12]

    def token(self, data: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(_encode(data))
        sig = self._sign(body)
        return f"{body.decode().rstrip('=')}.{base64.urlsafe_b64encode(sig).decode()}"

    def read(self, token: str) -> dict[str, Any]:
        """The token's data; ValidationError when it was not signed by us."""
        body, _, sig = token.partition(".")
        padded = body + "=" * (-len(body) % 4)
        want = base64.urlsafe_b64encode(self._sign(padded.encode())).decode()
        if not sig or not hmac.compare_digest(want, sig):
            raise ValidationError("this link is not valid (bad signature)", "$.token")
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
        return data

    def links(self, ref: dict[str, str]) -> dict[str, str]:
        """The unsubscribe link and the open pixel of one message. `ref` names it: `m` the
        message id, `p` the record, `c` the channel, `a` the arm."""
        token = self.token(ref)  # the same data signed: one token serves both
        return {"unsubscribe_url": f"{self.base_url}/u/{token}",
                "open_url": f"{self.base_url}/t/o/{token}.gif"}

    def wrap(self, html: str, ref: dict[str, str], open_url: str) -> str:
        """Route the HTML's links through click tracking and add the open pixel (`open_url`,
        from the message's `links`)."""
        def click(m: re.Match[str]) -> str:
            if m.group(1).startswith(self.base_url + "/"):
                return m.group(0)  # our own links (unsubscribe) are not tracked
            return f'href="{self.base_url}/t/c/{self.token({**ref, "u": m.group(1)})}"'

        wrapped = _HREF.sub(click, html)
        pixel = f'<img src="{open_url}" width="1" height="1" alt="">'
        return wrapped.replace("</body>", pixel + "</body>") if "</body>" in wrapped else (
            wrapped + pixel)


class Rendered(NamedTuple):
    subject: str
    body: str
    unsubscribe_url: str


class Reads(NamedTuple):
    """What a template may read: the names of its context, and whether that includes the
    customer's tags (`customer.tags`, or `customer` used any other way than by a constant
    field, which might reach them)."""

    names: frozenset[str]
    tags: bool


_NOTHING = Reads(frozenset(), False)


def _reads(ast: nodes.Template) -> Reads:
    fields = 0  # `customer.x` or `customer["x"]`, x a constant other than "tags"
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        inner = node.node  # type: ignore[attr-defined]
        if isinstance(inner, nodes.Name) and inner.name == "customer":
            key: Any = None
            if isinstance(node, nodes.Getattr):
                # the sandbox looks an attribute up before an item: `customer.get`,
                # `customer.items` and the like are the dict's methods, which reach every key
                key = None if hasattr(dict, node.attr) else node.attr
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                key = node.arg.value
            if isinstance(key, str) and key != "tags":
                fields += 1
    uses = sum(1 for n in ast.find_all(nodes.Name) if n.name == "customer")
    return Reads(frozenset(meta.find_undeclared_variables(ast)), uses > fields)


class Renderer:
    """Renders a send step's subject and body for one customer."""

    def __init__(self, tracker: Tracker, templates: dict[str, str] | None = None) -> None:
        self.tracker = tracker
        self.env = BudgetEnvironment(undefined=StrictUndefined, autoescape=True)
        self.sources = {**_shipped_templates(), **(templates or {})}
        self._compiled: dict[str, Any] = {}
        self._reads: dict[str, Reads] = {}

    def check(self, source: str, path: str) -> None:
        """Raise a ValidationError when a template does not compile."""
        try:
            self.env.from_string(source)
        except TemplateError as exc:
            raise ValidationError(f"template error: {exc}", path) from None

    def _render(self, source: str, ctx: dict[str, Any]) -> str:
        if "{" not in source and "\r" not in source and not source.endswith("\n"):
            return source  # plain text (most subjects): what Jinja would give back
        return self.env.render(self._template(source), ctx)

    def _template(self, source: str) -> Any:
        t = self._compiled.get(source)
        if t is None:
            t = self._compiled[source] = self.env.from_string(source)
        return t

    def reads(self, source: str) -> Reads:
        """What rendering `source` may read (parsed once a source; a template that does not
        parse reads nothing, and fails when rendered)."""
        found = self._reads.get(source)
        if found is None:
            found = _NOTHING
            if "{" in source:
                with contextlib.suppress(TemplateError):  # and its render fails
                    found = _reads(self.env.parse(source))
            self._reads[source] = found
        return found

    def context(self, p: Profile, now: float, extra: dict[str, Any],
                with_tags: bool = True) -> dict[str, Any]:
        """The names a template sees: `customer` (the record's fields, and its tags unless
        `with_tags` is false: working them out costs as much as rendering a subject) and
        `extra`."""
        traits = p.traits
        first = traits.get("first_name") or str(traits.get("name") or "").split(" ")[0]
        customer = {"id": p.id, "user_id": p.user_id, "first_name": first or "there",
                    "traits": traits, "orders": p.orders, "revenue": p.revenue,
                    "cart_value": p.cart_value, "intent": p.intent, "cluster": p.cluster,
                    "key_action": p.key_action, "segments": list(p.segments)}
        if with_tags:
            customer["tags"] = tags(p, now)
        return {"customer": customer, **extra}

    def render(self, args: dict[str, Any], p: Profile, now: float, ref: dict[str, str],
               extra: dict[str, Any],
               lazy: Mapping[str, Callable[[], Any]] | None = None) -> Rendered:
        """The subject, body and unsubscribe link of the message `ref` names (see
        `Tracker.links`); an email without the link gets it as a footer (it opens the
        preference center). A template that fails at render time (a missing field) raises
        ValidationError: the journey records the failure instead of sending garbage.

        `lazy` holds values worth working out only for a template that reads them (product
        picks); the customer's tags are worked out only for a template that may read them."""
        channel = args["channel"]
        links = self.tracker.links(ref)
        source = args.get("body")
        if source is None:
            name = args["template"]
            source = self.sources.get(name)
            if source is None:
                raise ValidationError(f"no template {name!r}", "$.send.template")
        subject_source = args.get("subject", "")
        head, main = self.reads(subject_source), self.reads(source)
        values = {**extra, **links}
        for key, make in (lazy or {}).items():
            if key in head.names or key in main.names:
                values[key] = make()
        ctx = self.context(p, now, values, head.tags or main.tags)
        try:
            subject = self._render(subject_source, ctx)
            body = self._render(source, ctx)
        except TemplateError as exc:
            raise ValidationError(f"template error: {exc}", "$.send") from None
        except Exception as exc:  # whatever a template does, it is a failed send, not more
            raise ValidationError(f"template error: {type(exc).__name__}: {exc}"[:500],
                                  "$.send") from None
        prefs = links["unsubscribe_url"]
        if channel == "email" and "<" in body:
            if prefs not in body:  # every email links to the preference center
                body += (f'<p style="font-size:12px;color:#667"><a href="{prefs}">'
                         "Your preferences / unsubscribe</a></p>")
            body = self.tracker.wrap(body, ref, links["open_url"])
        elif channel == "email" and prefs not in body:
            body = f"{body}\n\nYour preferences / unsubscribe: {prefs}"
        elif channel == "sms":
            body = f"{body} Stop: {links['unsubscribe_url']}"
        return Rendered(subject, body, links["unsubscribe_url"])

