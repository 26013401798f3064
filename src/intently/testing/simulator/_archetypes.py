"""Behavior archetypes: how each kind of customer moves through a journey.

Each archetype writes one journey as a list of steps `(minutes after the journey start, event
name, properties)`; the shop turns steps into Segment events. Whether the journey ends in a
purchase is drawn first, so the ground truth is known.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ._catalog import Catalog, Product

Step = tuple[float, str, dict]


def _p(product: Product, **extra: object) -> dict:
    return {"product_id": product.id, "name": product.name, "category": product.category,
            "price": product.price, **extra}


def _order(products: list[Product], rng: random.Random, discount: float = 0.0) -> dict:
    prices = [round(p.price * (1 - discount), 2) for p in products]
    lines = [{"product_id": p.id, "name": p.name, "category": p.category, "price": price,
              "quantity": 1} for p, price in zip(products, prices, strict=True)]
    return {"order_id": f"o-{rng.getrandbits(40):010x}", "products": lines,
            "revenue": round(sum(prices), 2),
            "discount": round(sum(p.price for p in products) * discount, 2),
            "category": products[0].category}


@dataclass(frozen=True, slots=True)
class Archetype:
    name: str
    share: float  # of the population
    journeys_per_month: float
    purchase_rate: float  # of journeys
    known_from_start: bool  # subscribed, so identified before the first event
    write: Callable[[random.Random, Catalog, bool], list[Step]]


def researcher(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    item = cat.pick(rng, "electronics")
    t = 0.0
    steps: list[Step] = [(t, "Video Playback Started", _p(item, video_id=f"v-{item.id}"))]
    t += rng.uniform(2, 6)
    steps.append((t, "Product Viewed", _p(item)))
    t += rng.uniform(1, 4)
    steps.append((t, "Product Specs Viewed", _p(item)))
    t += rng.uniform(2, 8)
    steps.append((t, "Product Shared", _p(item, share_via=rng.choice(["email", "whatsapp"]),
                                         format="pdf")))
    t += rng.uniform(120, 600)  # comes back hours later
    steps.append((t, "Product Viewed", _p(item)))
    t += rng.uniform(1, 5)
    steps.append((t, "Product Specs Viewed", _p(item)))
    if buys:
        t += rng.uniform(2, 10)
        steps.append((t, "Product Added", _p(item, quantity=1)))
        t += rng.uniform(1, 4)
        steps.append((t, "Checkout Started", _p(item)))
        t += rng.uniform(1, 5)
        basket = [item] + ([cat.by_name["phone case"]] if item.name == "smartphone" else [])
        steps.append((t, "Order Completed", _order(basket, rng)))
    return steps


def impulse(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    item = cat.pick(rng, rng.choice(["fashion", "beauty", "home"]))
    steps: list[Step] = [(0.0, "Product Viewed", _p(item))]
    if buys:
        t = rng.uniform(0.5, 3)
        steps.append((t, "Product Added", _p(item, quantity=1)))
        extra = [cat.by_name["socks"]] if item.name == "sneakers" and rng.random() < 0.5 else []
        steps.append((t + rng.uniform(0.5, 4), "Order Completed", _order([item, *extra], rng)))
    elif rng.random() < 0.5:
        steps.append((rng.uniform(1, 3), "Product Viewed", _p(cat.pick(rng, item.category))))
    return steps


def cart_abandoner(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    category = rng.choice(["fashion", "home", "electronics"])
    steps: list[Step] = [(0.0, "Product List Viewed", {"category": category})]
    t = 0.0
    items = [cat.pick(rng, category) for _ in range(rng.randint(2, 3))]
    for item in items:
        t += rng.uniform(1, 4)
        steps.append((t, "Product Viewed", _p(item)))
    t += rng.uniform(1, 3)
    steps.append((t, "Product Added", _p(items[-1], quantity=1)))
    t += rng.uniform(0.5, 2)
    steps.append((t, "Cart Viewed", {"products": [_p(items[-1])]}))
    if rng.random() < 0.5:
        t += rng.uniform(1, 3)
        steps.append((t, "Checkout Started", _p(items[-1])))
    if buys:  # comes back to the cart later the same day
        t += rng.uniform(180, 720)
        steps.append((t, "Cart Viewed", {"products": [_p(items[-1])]}))
        steps.append((t + rng.uniform(1, 4), "Order Completed", _order([items[-1]], rng)))
    return steps


def bargain_hunter(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    category = rng.choice(["fashion", "beauty", "home"])
    item = cat.pick(rng, category)
    promo = {"promotion_id": f"promo-{category}", "name": f"{category} sale",
             "campaign": "weekly-promo"}
    steps: list[Step] = [(0.0, "Email Opened", {"campaign": "weekly-promo",
                                                "email_id": f"e-{rng.getrandbits(24):06x}"})]
    t = rng.uniform(1, 60)
    steps.append((t, "Email Link Clicked", {"campaign": "weekly-promo", "url": "/sale"}))
    t += rng.uniform(0.2, 1)
    steps.append((t, "Promotion Clicked", promo))
    t += rng.uniform(0.5, 2)
    steps.append((t, "Product Viewed", _p(item, discount=0.3)))
    if buys:
        t += rng.uniform(0.5, 2)
        steps.append((t, "Coupon Applied", {"coupon": "SALE30", "discount": 0.3}))
        t += rng.uniform(0.2, 1)
        steps.append((t, "Product Added", _p(item, quantity=1)))
        steps.append((t + rng.uniform(1, 3), "Order Completed", _order([item], rng, 0.3)))
    return steps


def loyal_regular(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    t = 0.0
    steps: list[Step] = []
    if rng.random() < 0.5:
        steps.append((t, "Email Opened", {"campaign": "monthly-picks"}))
        t += rng.uniform(5, 60)
    basket = cat.basket(rng)
    in_store = rng.random() < 0.4
    if not in_store:
        for item in basket:
            steps.append((t, "Product Added", _p(item, quantity=1)))
            t += rng.uniform(0.3, 2)
    if buys:
        order = _order(basket, rng)
        if in_store:
            order.update(channel="store", store_id=f"store-{rng.randint(1, 12):02d}",
                         receipt_id=order["order_id"])
            steps.append((t, "Order Completed", order))
        else:
            steps.append((t + rng.uniform(1, 3), "Order Completed", order))
    elif not steps:
        steps.append((t, "Product Viewed", _p(basket[0])))
    return steps


def churning(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    item = cat.pick(rng, rng.choice(["groceries", "home", "fashion"]))
    steps: list[Step] = [(0.0, "Product Viewed", _p(item))]
    if buys:
        steps.append((rng.uniform(1, 5), "Product Added", _p(item, quantity=1)))
        steps.append((rng.uniform(6, 10), "Order Completed", _order([item], rng)))
    return steps


def window_shopper(rng: random.Random, cat: Catalog, buys: bool) -> list[Step]:
    category = rng.choice(["fashion", "home", "electronics", "beauty"])
    t = 0.0
    steps: list[Step] = [(t, "Products Searched", {"query": category})]
    for _ in range(rng.randint(2, 4)):
        t += rng.uniform(0.5, 3)
        steps.append((t, "Product List Viewed", {"category": category}))
        t += rng.uniform(0.5, 3)
        steps.append((t, "Product Viewed", _p(cat.pick(rng, category))))
    if buys:
        item = cat.pick(rng, category)
        steps.append((t + 2, "Product Added", _p(item, quantity=1)))
        steps.append((t + 5, "Order Completed", _order([item], rng)))
    return steps


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("researcher", 0.15, 1.0, 0.75, False, researcher),
    Archetype("impulse_buyer", 0.15, 3.0, 0.8, False, impulse),
    Archetype("cart_abandoner", 0.15, 2.0, 0.12, False, cart_abandoner),
    Archetype("bargain_hunter", 0.15, 3.0, 0.5, True, bargain_hunter),
    Archetype("loyal_regular", 0.15, 1.2, 0.95, True, loyal_regular),
    Archetype("churning", 0.10, 0.6, 0.05, True, churning),
    Archetype("window_shopper", 0.15, 2.5, 0.03, False, window_shopper),
)
