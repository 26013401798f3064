"""Identity resolution: which golden record an event belongs to, merging records when an
anonymous visitor identifies (anonymous to known), on `alias`, and on a shared email or phone.

Rules (kept simple and safe, as in Segment's identity resolution defaults):
- a record has at most one `userId`; two records with different user ids are never merged;
- an anonymous id seen with a user id that is not its record's is moved to that user's record
  from then on (a shared device), without merging histories;
- a merge folds the record without a user id (or the younger one) into the other and is logged.
"""

from __future__ import annotations

from typing import Protocol

from ..events import Event
from ..store import Merge
from ._lookup import phone_key
from ._merge import merge_into
from ._profile import Profile


class ProfileState(Protocol):
    """The state resolution reads and writes: the engine backs it with its cache and store."""

    def lookup(self, key: str) -> str | None: ...
    def assign(self, key: str, profile_id: str) -> None: ...
    def get(self, profile_id: str) -> Profile: ...
    def create(self, profile_id: str) -> Profile: ...
    def drop(self, profile_id: str) -> None: ...
    def touch(self, profile_id: str) -> None:
        """The record changed: keep it until a checkpoint writes it."""


def contact_keys(email: object, phone: object) -> list[str]:
    """The identity keys of an email (lower-cased) and a phone (its digits and `+`); none
    for a value that is not one (a phone without digits, such as "n/a", would otherwise be
    one key that every such record shares)."""
    keys = []
    if isinstance(email, str) and "@" in email:
        keys.append("e:" + email.strip().lower())
    if isinstance(phone, str):
        key = phone_key(phone)
        if any(c.isdigit() for c in key):
            keys.append(key)
    return keys


def identity_keys(ev: Event) -> list[str]:
    """Identifier keys an event carries besides user and anonymous ids (email, phone)."""
    traits = ev.traits
    return contact_keys(traits.get("email"), traits.get("phone")) if traits else []


def lookup_keys(ev: Event) -> list[str]:
    """The identity keys resolving `ev` may look up: its user and anonymous ids (in both
    namespaces, which a new record checks), and the email and phone in its traits. A batch's
    keys are read from the store at once, before its events are applied."""
    keys: list[str] = []
    user, anon = ev.user_id, ev.anonymous_id  # strings by now (validation made them so)
    if user:
        keys += ("u:" + user, "a:" + user)  # type: ignore[operator]
    if anon:
        keys += ("a:" + anon, "u:" + anon)  # type: ignore[operator]
    if ev.traits:
        keys += identity_keys(ev)
    return keys


class Resolver:
    """Finds (or creates) the record for an event and records merges."""

    def __init__(self, state: ProfileState, chain_limit: int = 24) -> None:
        self.state = state
        self.chain_limit = chain_limit
        self.merges: list[Merge] = []
        # records one event changed together by moving an identity (merges are in `merges`):
        # an incremental checkpoint writes both or neither
        self.links: list[tuple[str, str]] = []
        # (record merged away, the segments it was in): the pipeline logs them left
        self.left: list[tuple[str, tuple[str, ...]]] = []

    def resolve(self, ev: Event) -> Profile:
        state = self.state
        user = ev.user_id
        anon = ev.anonymous_id
        if ev.type == "alias":
            return self._alias(ev)
        ukey = "u:" + user if user else None  # type: ignore[operator]
        akey = "a:" + anon if anon else None  # type: ignore[operator]
        upid = state.lookup(ukey) if ukey else None
        apid = state.lookup(akey) if akey else None
        if upid is not None and (apid is None or apid == upid):
            profile = state.get(upid)
            if akey and apid is None:
                self._attach(profile, akey)
        elif upid is not None:  # both known, different records
            profile = state.get(upid)
            anon_profile = state.get(apid)  # type: ignore[arg-type]
            if anon_profile.user_id is None:
                self._merge(profile, anon_profile, "identify", ev.ts)
            else:  # the device belongs to someone else too: follow the user from now on
                self._move(anon_profile, akey, profile)  # type: ignore[arg-type]
        elif apid is not None:
            profile = state.get(apid)
            if ukey:
                if profile.user_id is None:
                    profile.user_id = user  # type: ignore[assignment]
                    self._attach(profile, ukey)
                else:
                    old = profile
                    profile = self._new(user, ukey)  # type: ignore[arg-type]
                    self._move(old, akey, profile)  # type: ignore[arg-type]
        else:
            profile = self._new(user or anon, ukey or akey)  # type: ignore[arg-type]
            if ukey and akey:
                self._attach(profile, akey)
        if ukey and profile.user_id != user:
            profile.user_id = user  # type: ignore[assignment]
        if ev.traits:
            for key in identity_keys(ev):
                self._claim(profile, key, ev.ts)
        return profile

    # -- helpers
    def _new(self, raw_id: str, key: str) -> Profile:
        profile_id = raw_id
        other_ns = ("a:" if key.startswith("u:") else "u:") + raw_id
        if self.state.lookup(other_ns) == raw_id:  # a different person took this id first
            profile_id = key.replace(":", "-", 1)
        profile = self.state.create(profile_id)
        if key.startswith("u:"):
            profile.user_id = raw_id
        self._attach(profile, key)
        return profile

    def _attach(self, profile: Profile, key: str) -> None:
        if key not in profile.identities:
            profile.identities.append(key)
        self.state.assign(key, profile.id)

    def _move(self, old: Profile, key: str, new: Profile) -> None:
        if key in old.identities:
            old.identities.remove(key)
            self.state.touch(old.id)
            self.links.append((old.id, new.id))
        self._attach(new, key)

    def peek(self, ev: Event) -> str | None:
        """The record the event's user or device points to, changing nothing (a recovery
        checks whether that record has the event already)."""
        state = self.state
        if ev.user_id:
            pid = state.lookup("u:" + ev.user_id)  # type: ignore[operator]
            if pid is not None:
                return pid
        return state.lookup("a:" + ev.anonymous_id) if ev.anonymous_id else None  # type: ignore[operator]

    def _claim(self, profile: Profile, key: str, ts: float) -> None:
        pid = self.state.lookup(key)
        if pid is None:
            self._attach(profile, key)
        elif pid != profile.id:
            other = self.state.get(pid)
            if other.user_id is None or profile.user_id is None:
                self._merge(profile, other, "shared " + ("email" if key[0] == "e" else "phone"), ts)
            else:
                self._move(other, key, profile)

    def _merge(self, into: Profile, other: Profile, reason: str, ts: float) -> None:
        if other.segments:
            self.left.append((other.id, other.segments))
        merge_into(into, other, self.chain_limit)
        for key in (*other.identities, "m:" + other.id):  # an old record id still finds it
            self.state.assign(key, into.id)
        self.state.drop(other.id)
        self.merges.append(Merge(into.id, other.id, reason, ts, int(other.last_seq)))

    def _alias(self, ev: Event) -> Profile:
        state = self.state
        prev = ev.previous_id
        ukey = "u:" + ev.user_id  # type: ignore[operator]
        prev_pid = state.lookup("u:" + prev) or state.lookup("a:" + prev)  # type: ignore[operator]
        upid = state.lookup(ukey)
        if prev_pid is None and upid is None:
            profile = self._new(ev.user_id, ukey)  # type: ignore[arg-type]
            self._attach(profile, "a:" + prev)  # type: ignore[operator]
            return profile
        if upid is None:
            profile = state.get(prev_pid)  # type: ignore[arg-type]
            if profile.user_id is None:
                profile.user_id = ev.user_id  # type: ignore[assignment]
            self._attach(profile, ukey)
            return profile
        profile = state.get(upid)
        if prev_pid is None:
            self._attach(profile, "a:" + prev)  # type: ignore[operator]
        elif prev_pid != upid:
            other = state.get(prev_pid)
            if other.user_id is None or other.user_id == profile.user_id:
                self._merge(profile, other, "alias", ev.ts)
        return profile
