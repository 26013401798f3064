"""The keys that seal personal data at rest: envelope encryption.

A store that seals keeps a few random *data keys* (AES-256) in its meta, each wrapped (AES-GCM)
with the *master key* from the settings (`encryption_keys`, the first one): the master key is
never stored, and changing it rewraps a few bytes instead of rewriting the store. The newest
data key seals what is written; older ones open what they sealed until a data rotation has
rewritten it all. A separate *index key*, wrapped the same way, makes the keyed digests that
stand for emails and phones in the identity table (so a look-up by email still works).

Sealed bytes are `MAGIC`, the data key's number (2 bytes), a 12-byte nonce, then AES-GCM's
ciphertext and tag, with the kind of value as associated data (a record's bytes cannot be
passed off as an event's). Bytes without the magic are read as they are: rows written before
the store sealed, until `intently privacy rotate-key --data` seals them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._errors import SealingError

if TYPE_CHECKING:  # `cryptography` is imported when a store seals, not by every command
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"\xc1\x5e"  # 0xc1 starts neither JSON nor msgpack: plain rows never look sealed
TEXT = "sealed:"  # sealed text columns: this prefix, then the sealed bytes in base64
META = "sealing"
"""The meta key of the envelope: the wrapped data keys, the index key, the master's
fingerprint."""
_WRAP_AD = b"intently data key"
_HEAD = struct.Struct(">2sH12s")
SEALED_KINDS = ("e:", "p:")
"""Identity keys that name a person (email, phone): kept as keyed digests. User and
anonymous ids are the client's own pseudonyms and stay as they are."""


def new_master_key() -> str:
    """32 random bytes in URL-safe base64: a value for `encryption_keys`."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def new_envelope(keys: Sequence[str]) -> str:
    """A new envelope (fresh data and index keys) wrapped by the first master key, as the
    store's meta keeps it."""
    if not keys:
        raise SealingError("encryption_keys: none given")
    return Envelope.new(master_key(keys[0])).dump()


def master_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SealingError("encryption_keys: each key is 32 bytes in URL-safe base64 "
                        "(`intently privacy new-key` makes one)")
    return key


def fingerprint(master: bytes) -> str:
    """Names a master key in the store without revealing it."""
    return hashlib.sha256(b"intently master key\0" + master).hexdigest()[:16]


def _aead(key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag


def _wrap(master: bytes, key: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + _aead(master).encrypt(nonce, key, _WRAP_AD)).decode()


def _unwrap(master: bytes, wrapped: str) -> bytes:
    raw = base64.b64decode(wrapped)
    return _aead(master).decrypt(raw[:12], raw[12:], _WRAP_AD)


@dataclass
class Envelope:
    """What the store's meta keeps: data keys by number, wrapped by the master key whose
    fingerprint is `master`."""

    master: str
    current: int
    keys: dict[int, str]
    index: str

    def dump(self) -> str:
        return json.dumps({"version": 1, "master": self.master, "current": self.current,
                           "keys": {str(n): w for n, w in self.keys.items()},
                           "index": self.index}, sort_keys=True)

    @classmethod
    def load(cls, text: str) -> Envelope:
        raw = json.loads(text)
        return cls(raw["master"], int(raw["current"]),
                   {int(n): w for n, w in raw["keys"].items()}, raw["index"])

    @classmethod
    def new(cls, master: bytes) -> Envelope:
        return cls(fingerprint(master), 1, {1: _wrap(master, os.urandom(32))},
                   _wrap(master, os.urandom(32)))

    def find_master(self, masters: Sequence[bytes]) -> bytes:
        for master in masters:
            if fingerprint(master) == self.master:
                return master
        raise SealingError(f"the store's data keys are wrapped by master key {self.master}, "
                        "and none of encryption_keys is that key")

    def rewrapped(self, old: bytes, new: bytes) -> Envelope:
        """The same data keys, wrapped by `new`."""
        return Envelope(fingerprint(new), self.current,
                        {n: _wrap(new, _unwrap(old, w)) for n, w in self.keys.items()},
                        _wrap(new, _unwrap(old, self.index)))

    def with_new_key(self, master: bytes) -> Envelope:
        """A new current data key beside the old ones (a data rotation's first step)."""
        number = max(self.keys) + 1
        return Envelope(self.master, number, {**self.keys, number: _wrap(master, os.urandom(32))},
                        self.index)

    def only_current(self) -> Envelope:
        """Without the data keys nothing is sealed with any more (a data rotation's last
        step)."""
        return Envelope(self.master, self.current, {self.current: self.keys[self.current]},
                        self.index)

    def keyring(self, master: bytes) -> Keyring:
        try:
            keys = {n: _aead(_unwrap(master, w)) for n, w in self.keys.items()}
            index = _unwrap(master, self.index)
        except _invalid_tag():
            raise SealingError(f"master key {self.master} does not open this store's data keys "
                            "(the envelope was changed?)") from None
        return Keyring(keys, self.current, index)


class Keyring:
    """Seals and opens values with the store's data keys; digests identity keys."""

    def __init__(self, keys: dict[int, AESGCM], current: int, index: bytes) -> None:
        self._keys = keys
        self._current = current
        self._aead = keys[current]
        self._index = index

    def seal(self, data: bytes, kind: bytes) -> bytes:
        nonce = os.urandom(12)
        return (_HEAD.pack(MAGIC, self._current, nonce)
                + self._aead.encrypt(nonce, data, kind))

    def open(self, data: bytes, kind: bytes) -> bytes:
        if data[:2] != MAGIC:
            return data  # written before the store sealed
        _, number, nonce = _HEAD.unpack_from(data)
        aead = self._keys.get(number)
        if aead is None:
            raise SealingError(f"a value sealed with data key {number}, which the store no "
                            "longer has")
        try:
            return aead.decrypt(nonce, data[_HEAD.size:], kind)
        except _invalid_tag():
            raise SealingError(f"a sealed {kind.decode()} does not open (changed on disk?)"
                            ) from None

    def sealed_by_current(self, data: bytes) -> bool:
        return data[:2] == MAGIC and _HEAD.unpack_from(data)[1] == self._current

    def seal_text(self, text: str, kind: bytes) -> str:
        if not text:
            return text
        return TEXT + base64.b64encode(self.seal(text.encode(), kind)).decode()

    def open_text(self, text: str, kind: bytes) -> str:
        if not text.startswith(TEXT):
            return text
        return self.open(base64.b64decode(text[len(TEXT):]), kind).decode()

    def key(self, key: str) -> str:
        """An identity key as the store keeps it: emails and phones as keyed digests
        (`e#…`), others as they are."""
        if key[:2] not in SEALED_KINDS:
            return key
        mac = hmac.new(self._index, key.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{key[0]}#{mac}"
