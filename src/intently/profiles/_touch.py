"""Reading marketing facts off an event: channel, category, revenue, first touch, consents."""

from __future__ import annotations

from sys import intern
from typing import Any

from ..events import Event
from ._parts import Touch

_EMAIL_EVENTS = frozenset({"Email Opened", "Email Link Clicked", "Email Delivered"})


def channel_of(event: Event, props: dict[str, Any], ctx: dict[str, Any]) -> str:
    """Where the customer acted: `web`, `app`, `email`, `store`, ... (explicit beats inferred).
    `props` and `ctx` are the event's properties and context (the caller has them at hand)."""
    explicit = props.get("channel") or ctx.get("channel") or event.channel
    if isinstance(explicit, str) and explicit:
        return explicit.lower()
    if event.event in _EMAIL_EVENTS:
        return "email"
    if "store_id" in props or "receipt_id" in props:
        return "store"
    if event.type == "screen" or "app" in ctx:
        return "app"
    return "web"


def category_of(props: dict[str, Any]) -> str | None:
    value = props.get("category") or props.get("category_code")
    return value if isinstance(value, str) and value else None


_KEYS: dict[str, str] = {}  # category -> its top level, for the categories seen so far
_KEYS_MAX = 4096


def category_key(category: str | None) -> str | None:
    """The top level of a category path, lower case: "Electronics > Phones" -> "electronics".
    The model weighs the top level: deeper levels are too sparse to learn from most histories."""
    if category is None:
        return None
    key = _KEYS.get(category)
    if key is not None:
        return key or None
    cut = len(category)
    for sep in ".>/|":
        at = category.find(sep)
        if 0 <= at < cut:
            cut = at
    key = category[:cut].strip().lower()
    if len(_KEYS) < _KEYS_MAX:
        _KEYS[category] = key
    return key or None


def revenue_of(props: dict[str, Any]) -> float:
    """Order value per Segment's spec: revenue, total, value, products, or price x quantity."""
    for key in ("revenue", "total", "value"):
        value = props.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    products = props.get("products")
    if isinstance(products, list) and products:
        return sum(_line_value(p) for p in products if isinstance(p, dict))
    return _line_value(props)


def _line_value(item: dict[str, Any]) -> float:
    price = item.get("price")
    if not isinstance(price, int | float) or isinstance(price, bool):
        return 0.0
    qty = item.get("quantity", 1)
    return float(price) * (qty if isinstance(qty, int | float) and not isinstance(qty, bool) else 1)


def item_price(props: dict[str, Any]) -> float:
    """The price of the item an event is about (0 when it names none)."""
    price = props.get("price")
    return float(price) if isinstance(price, int | float) and not isinstance(price, bool) else 0.0


def cart_after(cart: float, signals: tuple[str, ...], value: float) -> float:
    """A journey's cart value after an event: what was added, less what was removed."""
    if "added_to_cart" in signals:
        return cart + value
    if "removed_from_cart" in signals:
        return max(0.0, cart - value)
    return cart


def line_value(item: dict[str, Any]) -> float:
    """Price times quantity of one line (an event about an item, or an order line)."""
    return _line_value(item)


def first_touch(event: Event, channel: str) -> Touch:
    """The entry point of a journey: channel, source, campaign, referrer and landing page."""
    ctx = event.context
    props = event.properties
    source = name = medium = None
    campaign = ctx.get("campaign")
    if isinstance(campaign, dict):
        source, name, medium = (_short(campaign.get("source")), _short(campaign.get("name")),
                                _short(campaign.get("medium")))
    found = ctx.get("page")
    page: dict[str, Any] = found if isinstance(found, dict) else {}
    referrer = ctx.get("referrer")
    ref = referrer.get("url") or referrer.get("name") if isinstance(referrer, dict) else None
    ref = ref or page.get("referrer") or props.get("referrer")
    landing = page.get("url") or page.get("path") or props.get("url")
    landing = landing or props.get("path") or event.name
    return Touch(intern(channel), source, name, medium, _short(ref), _short(landing))


def _short(value: Any) -> str | None:
    """A non-empty string, capped at 200 characters and interned (entry points repeat)."""
    return intern(value[:200]) if isinstance(value, str) and value else None


def consents_of(event: Event) -> dict[str, bool]:
    """Consent changes carried by an event, per channel (`email`, `sms`, `push`, ...)."""
    found: dict[str, bool] = {}
    for source in (event.traits.get("consents"), event.properties.get("consents")):
        if isinstance(source, dict):
            found.update({str(k).lower(): bool(v) for k, v in source.items()})
    consent = event.context.get("consent")
    if isinstance(consent, dict) and isinstance(consent.get("categoryPreferences"), dict):
        prefs = consent["categoryPreferences"]
        found.update({str(k).lower(): bool(v) for k, v in prefs.items()})
    name = event.event
    if name in ("Consent Updated", "Subscribed", "Unsubscribed"):
        chan = event.properties.get("channel")
        if isinstance(chan, str) and chan:
            granted = event.properties.get("granted", name != "Unsubscribed")
            found[chan.lower()] = bool(granted)
    return found
