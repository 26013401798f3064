"""Built-in segments: ready to use, editable like any other (a segment saved under the same
name replaces the built-in)."""

from __future__ import annotations

from ._book import Segment

BUILTIN: tuple[tuple[str, str, str], ...] = (
    # "active" ends just before the hour does: a journey that ended in a purchase keeps its
    # probability (1) until the next event, so the purchase must not leave the window first
    ("high intent now", "intent >= 0.7 and days_since_last_seen <= 0.0416 and no purchased in 1h",
     "Customers in a journey likely to end in a purchase, active in the last hour."),
    ("cart abandoners",
     "did added_to_cart in 24h and no purchased in 24h and days_since_last_seen >= 0.0417",
     "Added to the cart in the last day, did not buy, quiet for an hour."),
    ("category browsers who do not buy",
     "did browsed_category at least 3 times in 7d and no purchased in 30d",
     "Browse categories again and again without buying."),
    ("recent first-time buyers", "orders = 1 and days_since_last_order <= 14",
     "Bought for the first time in the last two weeks."),
    ("monthly regulars", "did purchased at least 3 times in 95d and days_since_last_order <= 35",
     "Buy about every month."),
    ("promotion responders",
     "did used_promotion at least 2 times in 60d and did purchased with discount > 0 in 60d",
     "Come for promotions and buy on discount."),
    ("active loyalty members", "traits.loyalty_member = true and did purchased in 90d",
     "Loyalty members who bought in the last three months."),
    ("churn risk", "orders >= 2 and days_since_last_order > 45",
     "Repeat customers who have not bought for six weeks (a heuristic until the churn model)."),
    ("high value", "revenue >= 500", "Customers who spent 500 or more."),
)


def builtin_segments() -> list[Segment]:
    return [Segment.from_text(name, text, description, builtin=True)
            for name, text, description in BUILTIN]
