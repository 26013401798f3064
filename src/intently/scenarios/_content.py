"""Message content: Jinja2 templates over the customer's record, plus tracking.

Templates run in Jinja2's sandbox (a template is data a marketer writes, not code). HTML
bodies get their links wrapped for click tracking and an open pixel; every message carries a
signed unsubscribe link. Tokens are HMAC-signed, so a link cannot be forged to unsubscribe
someone else or to redirect to a URL the message did not contain.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple

import msgspec
from jinja2 import StrictUndefined, TemplateError

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


class Renderer:
    """Renders a send step's subject and body for one customer."""

    def __init__(self, tracker: Tracker, templates: dict[str, str] | None = None) -> None:
        self.tracker = tracker
        self.env = BudgetEnvironment(undefined=StrictUndefined, autoescape=True)
        self.sources = {**_shipped_templates(), **(templates or {})}
        self._compiled: dict[str, Any] = {}

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

    def context(self, p: Profile, now: float, extra: dict[str, Any]) -> dict[str, Any]:
        traits = p.traits
        first = traits.get("first_name") or str(traits.get("name") or "").split(" ")[0]
        return {"customer": {"id": p.id, "user_id": p.user_id, "first_name": first or "there",
                             "traits": traits, "orders": p.orders, "revenue": p.revenue,
                             "cart_value": p.cart_value, "intent": p.intent,
                             "cluster": p.cluster, "key_action": p.key_action,
                             "segments": list(p.segments), "tags": tags(p, now)},
                **extra}

    def render(self, args: dict[str, Any], p: Profile, now: float, ref: dict[str, str],
               extra: dict[str, Any]) -> Rendered:
        """The subject, body and unsubscribe link of the message `ref` names (see
        `Tracker.links`); an email without the link gets it as a footer (it opens the
        preference center). A template that fails at render time (a missing field) raises
        ValidationError: the journey records the failure instead of sending garbage."""
        channel = args["channel"]
        links = self.tracker.links(ref)
        ctx = self.context(p, now, {**extra, **links})
        source = args.get("body")
        if source is None:
            name = args["template"]
            source = self.sources.get(name)
            if source is None:
                raise ValidationError(f"no template {name!r}", "$.send.template")
        try:
            subject = self._render(args.get("subject", ""), ctx)
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

