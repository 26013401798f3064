"""Personal data sealed at rest: which store an engine works on, and key rotation.

With `encryption_keys` set, an engine works on its store through `SealedStore`: records,
payloads, messages and email and phone keys are sealed under the store's data keys, which the
first master key wraps. Rotating the master key: put the new key first and keep the old one
after it; the next engine that opens the store for writing rewraps the data keys (a few bytes),
then the old key can go. Rotating the data keys (`rotate_data_keys`, `intently privacy
rotate-key --data`) seals every row again under a new one, and seals a store that was written
without encryption.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from .._errors import SealingError
from ._keyring import META, SEALED_KINDS, Envelope, fingerprint, master_key
from ._ports import Store
from ._rows import PrivacyRequest
from ._sealed import ERROR, EVENT, MESSAGE, RECORD, SealedStore, sealed

_log = logging.getLogger("intently.privacy")
_PAGE = 1000


def _holds_data(store: Store) -> bool:
    return store.last_seq() > 0 or store.count_profiles() > 0


def sealing_store(store: Store, keys: Sequence[str], readonly: bool) -> Store:
    """The store an engine works on: sealed when master `keys` (`encryption_keys`) are
    set."""
    if isinstance(store, SealedStore):
        return store
    kept = store.get_meta(META)
    if not keys:
        if kept is not None:
            raise SealingError("this store keeps personal data sealed: set encryption_keys "
                               "(INTENTLY_ENCRYPTION_KEYS) to the key that sealed it")
        return store
    if kept is None:
        if readonly:
            return store  # nothing sealed to read, and nothing may be written
        if _holds_data(store):
            raise SealingError("this store holds personal data written without encryption: "
                               "`intently privacy rotate-key --data` seals it")
    elif not readonly:
        _rewrap(store, keys)
    return sealed(store, keys, create=not readonly)


def _rewrap(store: Store, keys: Sequence[str]) -> bool:
    """Wrap the data keys with the first master key, if another one wraps them."""
    text = store.get_meta(META)
    if text is None:
        return False
    envelope = Envelope.load(text)
    masters = [master_key(k) for k in keys]
    if envelope.master == fingerprint(masters[0]):
        return False
    old = envelope.find_master(masters)
    store.set_meta(META, envelope.rewrapped(old, masters[0]).dump())
    _log.info("data keys rewrapped with the first of encryption_keys",
              extra={"old": envelope.master, "new": fingerprint(masters[0])})
    return True


@dataclass(frozen=True)
class Rotation:
    """What a rotation did, counted."""

    rewrapped: bool
    """the data keys were wrapped again with the first master key"""
    data_key: int
    """the number of the data key that seals from now on"""
    records: int = 0
    events: int = 0
    messages: int = 0
    identities: int = 0
    set_aside: int = 0
    """errors of events set aside, sealed again"""

    def to_json(self) -> dict[str, object]:
        return {"rewrapped": self.rewrapped, "data_key": self.data_key,
                "records": self.records, "events": self.events, "messages": self.messages,
                "identities": self.identities, "set_aside": self.set_aside}


def rotate_keys(store: Store, keys: Sequence[str], *, actor: str, now: float,
                data: bool = False) -> Rotation:
    """Wrap the data keys with the first master key; with `data`, also seal every record,
    event and message again under a new data key (and drop the old ones), and keep emails and
    phones as digests. `store` is the backend itself, held for writing (no engine runs on
    it). Journaled (who, when, what was done) with the privacy requests."""
    rotation = _rotate(store.inner if isinstance(store, SealedStore) else store, keys, data)
    store.log_request(PrivacyRequest(uuid.uuid4().hex, "rotate-key", "", now, actor,
                                     json.dumps(rotation.to_json(), sort_keys=True)))
    return rotation


def _rotate(store: Store, keys: Sequence[str], data: bool) -> Rotation:
    if not keys:
        raise SealingError("encryption_keys: none given")
    masters = [master_key(k) for k in keys]
    text = store.get_meta(META)
    if text is None and not data:
        raise SealingError("this store does not seal yet: `rotate-key --data` seals it")
    rewrapped = _rewrap(store, keys)
    if not data:
        envelope = Envelope.load(store.get_meta(META) or "")
        return Rotation(rewrapped, envelope.current)
    envelope = (Envelope.new(masters[0]) if text is None
                else Envelope.load(store.get_meta(META) or "").with_new_key(masters[0]))
    store.set_meta(META, envelope.dump())
    ring = envelope.keyring(masters[0])
    to = SealedStore(store, ring)
    counts = {"records": 0, "events": 0, "messages": 0, "identities": 0, "set_aside": 0}
    seq, after = store.checkpoint_seq(), None
    while ids := store.profile_ids(_PAGE, after=after):
        after = ids[-1]
        bodies = store.load_profiles(ids)
        to.checkpoint(seq, {pid: ring.open(b, RECORD) for pid, b in bodies.items()
                            if not ring.sealed_by_current(b)}, {}, [])
        counts["records"] += len(bodies)
        plain = [k for k in store.subject_keys(ids) if k[:2] in SEALED_KINDS]
        if plain:
            store.rename_identities([(k, ring.key(k)) for k in plain])
        counts["identities"] += len(plain)
    aside = [(e.seq, ring.open_text(e.error, ERROR), e.at)
             for e in store.set_aside_events(limit=1 << 40)]
    if aside:  # before the events: their rewrite empties the WAL of what this one replaced
        with to.transaction() as tx:  # setting an event aside again replaces its error
            for seq, error, at in aside:
                tx.set_aside(seq, error, at)
    counts["set_aside"] = len(aside)
    for events in store.read_log(0):
        stale = [(e.seq, ring.open(e.payload, EVENT)) for e in events
                 if not ring.sealed_by_current(e.payload)]
        if stale:
            to.rewrite_payloads(stale)
        counts["events"] += len(stale)
    stale_messages = [(m.id, ring.open(m.body, MESSAGE), ring.open_text(m.error, ERROR))
                      for m in store.outbox(limit=1 << 40)
                      if not ring.sealed_by_current(m.body)]
    if stale_messages:
        to.rewrite_messages(stale_messages)
    counts["messages"] = len(stale_messages)
    store.set_meta(META, envelope.only_current().dump())
    _log.info("sealed again under a new data key", extra={"data_key": envelope.current,
                                                         **counts})
    return Rotation(rewrapped, envelope.current, **counts)
