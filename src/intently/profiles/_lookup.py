"""The identity keys a look-up by any identifier tries (the CLI, the API, the dashboard, a
cluster's decision cache), shaped as ingestion files them (`_resolve.identity_keys`)."""

from __future__ import annotations


def phone_key(phone: str) -> str:
    """A phone number's identity key: its digits and `+` only, so that `+46 70 123 45 67`
    and `+46701234567` are one key."""
    return "p:" + "".join(c for c in phone if c.isdigit() or c == "+")


def find_keys(identifier: str) -> tuple[str, ...]:
    """In order: user id, anonymous id, email (lower-cased), phone (normalised), and a
    record merged into another."""
    return ("u:" + identifier, "a:" + identifier, "e:" + identifier.lower(),
            phone_key(identifier), "m:" + identifier)
