"""Dashboard users: a name, a role (viewer, marketer, admin) and a password, kept in the
catalog. Passwords are kept as scrypt hashes (the standard library's), never as given. Every
change to a user (role, password, removal) moves the user to a new generation, which ends the
sessions they opened before it. Every change is journaled (who, when, the user's name and role
before and after; never a password or its hash)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from .._errors import NotFound, ValidationError
from ..clock import Clock
from ..store import Catalog

ROLES = ("admin", "marketer", "viewer")
META = "dashboard.users"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_N, _R, _P = 2**14, 8, 1  # scrypt's interactive-login parameters: about 16 MiB, tens of ms

Audit = Callable[[str, str, str, Any, Any], str]
"""(verb, subject, actor, before, after) -> the journal row's id"""


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return (f"scrypt:{_N}:{_R}:{_P}:{base64.b64encode(salt).decode()}:"
            f"{base64.b64encode(digest).decode()}")


def password_matches(password: str, kept: str) -> bool:
    kind, n, r, p, salt, digest = kept.split(":")
    if kind != "scrypt":
        return False
    found = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                           r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(found, base64.b64decode(digest))


_DECOY = hash_password("a password no one has: compared when the name is unknown")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password: str
    """scrypt hash"""
    generation: int
    since: float

    def view(self) -> dict[str, Any]:
        """What may be shown: never the hash."""
        return {"name": self.name, "role": self.role, "since": self.since}


class Users:
    """The dashboard's users. Read from any thread; changed on the engine's."""

    def __init__(self, catalog: Catalog, audit: Audit, clock: Clock) -> None:
        self._catalog = catalog
        self._audit = audit
        self._clock = clock
        raw = catalog.get_meta(META)
        self._users: dict[str, User] = {
            name: User(**fields) for name, fields in (json.loads(raw) if raw else {}).items()}

    def list(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.name)

    def get(self, name: str) -> User | None:
        return self._users.get(name)

    def verify(self, name: str, password: str) -> User | None:
        """The user, if the password is theirs. As slow for an unknown name as for a known
        one (a timing must not tell which names exist)."""
        user = self._users.get(name)
        ok = password_matches(password[:MAX_PASSWORD], user.password if user else _DECOY)
        return user if ok and user is not None else None

    def put(self, name: str, *, actor: str, role: str | None = None,
            password: str | None = None) -> User:
        """Add a user (role and password needed) or change one; a change ends their
        sessions."""
        if not _NAME.fullmatch(name):
            raise ValidationError("a user name is 1 to 64 letters, digits and . _ @ + -, "
                                  "starting with a letter or digit", path="$.name")
        if role is not None and role not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}", path="$.role")
        if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise ValidationError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                                  path="$.password")
        old = self._users.get(name)
        if old is None:
            if role is None or password is None:
                raise ValidationError("a new user needs a role and a password",
                                      path="$.role" if role is None else "$.password")
            user = User(name, role, hash_password(password), 1, self._clock.now())
        else:
            user = replace(old, role=role or old.role, generation=old.generation + 1,
                           password=hash_password(password) if password else old.password)
        self._save({**self._users, name: user})
        self._audit("user.put", name, actor, old.view() if old else None,
                    {**user.view(), "password_changed": password is not None})
        return user

    def remove(self, name: str, *, actor: str) -> None:
        old = self._users.get(name)
        if old is None:
            raise NotFound(f"no user {name!r}")
        self._save({n: u for n, u in self._users.items() if n != name})
        self._audit("user.delete", name, actor, old.view(), None)

    def _save(self, users: dict[str, User]) -> None:
        self._catalog.set_meta(META, json.dumps({n: asdict(u) for n, u in users.items()},
                                                sort_keys=True))
        self._users = users
