"""Consent per purpose: what a customer allowed their data to be used for, and the one rule
that reads it.

Purposes: the marketing channels (`email`, `sms`, `push`), `personalization` (content and
recommendations chosen from their behavior), `offers` (offers at the checkout) and
`analytics` (their activity in analytics jobs: RFM, lifetime value, customer groups).

Marketing by a channel needs consent (opt-in: nothing is sent without a recorded yes); the
other purposes run on the shop's legitimate interest until the customer objects (opt-out: a
recorded no stops them). Every change is an event in the log (its source and legal basis in
its properties), so a customer's timeline and export show the history."""

from __future__ import annotations

from typing import Protocol


class ConsentHolder(Protocol):
    consents: dict[str, bool]


PURPOSES = ("email", "sms", "push", "personalization", "offers", "analytics")
OPT_IN = frozenset({"email", "sms", "push"})


def permits(profile: ConsentHolder | None, purpose: str) -> bool:
    """Whether `purpose` may use this customer's data (an unknown customer: only what needs
    no consent)."""
    given = profile.consents.get(purpose) if profile is not None else None
    return given is True if purpose in OPT_IN else given is not False
