"""Privacy verbs over a runner: erase a person, suppress or lift their identifiers, and
journal each request without the personal data.

An erasure first writes a checkpoint (so the store holds everything the engine knows), deletes
the person in one store transaction (`PrivacyStore.erase`), then reloads the engine's memory
from the store, so no cache, timer or pending change of theirs survives."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import NotFound
from ..profiles import Profile, find_keys
from ..store import Erasure, PrivacyRequest, Subject, Suppression
from ._retention import Retention
from ._suppress import Pseudonyms

if TYPE_CHECKING:
    from ._runner import Runner

_log = logging.getLogger("intently.privacy")


def candidate_keys(identifier: str) -> list[str]:
    """The identity keys an identifier may be, in every namespace (as `find` tries them)."""
    return sorted({k for k in find_keys(identifier.strip())
                   if k != "p:" and not k.startswith("m:")})


@dataclass(frozen=True)
class ErasureReport:
    request: str
    """the privacy journal's id for this request"""
    found: bool
    erased: Erasure
    """what was removed, counted"""
    suppressed: int
    """identity keys now on the suppression list"""
    record_ids: tuple[str, ...] = ()
    """the records erased (internal ids: what caches keyed by record must forget)"""
    keys: tuple[str, ...] = ()
    """their identity keys (what caches keyed by identity must forget; not in `to_json`)"""

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request, "found": self.found, **self.erased._asdict(),
                "suppressed": self.suppressed, "record_ids": list(self.record_ids)}


class PrivacyService:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.retention = Retention(runner)
        """Raw fields and old events dropped as the settings say."""
        self.pseudonym = Pseudonyms(runner.secret)
        """`pseudonym(record_id)`: a stable keyed hash for outputs analysts read."""

    @property
    def suppressed_events(self) -> int:
        """Events dropped because they carried a suppressed identity (since the store began)."""
        return self._runner.suppression.events_dropped

    def subject(self, profile: Profile) -> Subject:
        """The records (the profile and every record merged into it, recursively), identity
        keys and identifying values of the person behind `profile`."""
        store = self._runner.store
        ids = [profile.id]
        seen = {profile.id}
        for pid in ids:
            found = [m.from_id for m in store.merges(pid)]
            if pid == profile.id:
                found += [k[2:] for k in profile.identities if k.startswith("m:")]
            for from_id in found:
                if from_id not in seen:
                    seen.add(from_id)
                    ids.append(from_id)
        keys = {k for k in profile.identities if not k.startswith("m:")}
        keys.update(store.subject_keys(ids))
        values = {k[2:] for k in keys}
        for trait in ("email", "phone"):
            value = profile.traits.get(trait)
            if isinstance(value, str) and value:
                values.add(value)
        heads = tuple(int(h) for h in (profile.last_seq,) if h > 0)
        return Subject(tuple(ids), tuple(sorted(keys)), heads, tuple(sorted(values)))

    def request(self, verb: str, identifier: str, actor: str, request_id: str | None,
                **detail: Any) -> PrivacyRequest:
        """A row of the privacy journal for a request about `identifier`: its keyed digest,
        never the identifier itself."""
        runner = self._runner
        return PrivacyRequest(request_id or uuid.uuid4().hex, verb,
                              runner.suppression.digest("id:" + identifier),
                              runner.clock.now(), actor, json.dumps(detail, sort_keys=True))

    def erase(self, identifier: str, *, actor: str, suppress: bool = True,
              vacuum: bool = False, request_id: str | None = None) -> ErasureReport:
        """Delete everything held on the person `identifier` names (any identifier, as
        `find` takes), and keep their identity keys from being ingested again unless
        `suppress` is False. A person not found is still suppressed (and journaled).
        `vacuum`: also rewrite the store's file, where the backend has one (SQLite).
        `request_id`: the journal's id for it (a cluster's request, applied again after a
        takeover, is journaled once)."""
        runner = self._runner
        if runner.readonly:
            raise RuntimeError("this engine was opened read-only")
        runner.checkpoint()
        profile, subject = self._person(identifier)
        keys = _covered(subject, identifier)
        now = runner.clock.now()
        suppressions = ([Suppression(runner.suppression.digest(k), now, "erased") for k in keys]
                        if suppress else [])
        request = self.request("erase", identifier, actor, request_id,
                                found=profile is not None, records=len(subject.record_ids),
                                suppress=suppress)
        erased = runner.store.erase(subject, suppressions, request)
        runner.suppression.digests.update(s.digest for s in suppressions)
        runner.reload()
        compact = getattr(runner.store, "vacuum", None) if vacuum else None
        if compact is not None:
            compact()
        _log.info("erased", extra={"request": request.id, **erased._asdict()})
        return ErasureReport(request.id, profile is not None, erased,
                             suppressed=len(suppressions), record_ids=subject.record_ids,
                             keys=tuple(keys))

    def erased_keys(self, identifier: str) -> list[str]:
        """The identity keys that erasing `identifier` covers (as `erase` works them out):
        for a cluster partition's part of an erasure beyond the records it holds."""
        return _covered(self._person(identifier)[1], identifier)

    def _person(self, identifier: str) -> tuple[Profile | None, Subject]:
        """The record `identifier` finds, and what an erasure of it reaches (only the
        identifier itself when none is found)."""
        profile = self._runner.find(identifier)
        return profile, (self.subject(profile) if profile is not None
                         else Subject((), (), (), (identifier,)))

    def _keys(self, identifier: str) -> list[str]:
        profile = self._runner.find(identifier)
        keys = set(candidate_keys(identifier))
        if profile is not None:
            keys.update(k for k in profile.identities if not k.startswith("m:"))
        return sorted(keys)

    def suppress(self, identifier: str, *, actor: str, request_id: str | None = None) -> int:
        """Keep the person's identity keys (every key of their record, when known) from being
        ingested, without deleting what is held. Returns how many keys are suppressed."""
        runner = self._runner
        keys = self._keys(identifier)
        now = runner.clock.now()
        rows = [Suppression(runner.suppression.digest(k), now, "suppressed") for k in keys]
        runner.store.suppress(rows, self.request("suppress", identifier, actor, request_id,
                                                  keys=len(rows)))
        runner.suppression.digests.update(s.digest for s in rows)
        return len(rows)

    def unsuppress(self, identifier: str, *, actor: str, request_id: str | None = None) -> int:
        """Lift the suppression of the identifier's keys; returns how many were lifted."""
        runner = self._runner
        digests = [runner.suppression.digest(k) for k in self._keys(identifier)]
        lifted = runner.store.unsuppress(
            digests, self.request("unsuppress", identifier, actor, request_id))
        runner.suppression.digests.difference_update(digests)
        return lifted

    def exported(self, identifier: str, *, actor: str) -> str:
        """Journal an export (the bundle itself is built by the caller); returns its id."""
        profile = self._runner.find(identifier)
        if profile is None:
            raise NotFound(f"no customer {identifier!r}")
        request = self.request("export", identifier, actor, None)
        self._runner.store.log_request(request)
        return request.id

    def audit(self, verb: str, subject: str, actor: str, before: Any, after: Any) -> str:
        """Journal an admin change: who (`actor`), what (`verb` on `subject`: a segment's,
        scenario's or model's name, never a person), when, and the state before and after.
        Returns the row's id."""
        runner = self._runner
        row = PrivacyRequest(uuid.uuid4().hex, verb, subject, runner.clock.now(), actor,
                             json.dumps({"before": before, "after": after}, sort_keys=True,
                                        default=str))
        runner.store.log_request(row)
        return row.id

    def log(self, limit: int = 100) -> list[PrivacyRequest]:
        return self._runner.store.privacy_log(limit)


def _covered(subject: Subject, identifier: str) -> list[str]:
    """The keys an erasure covers: the person's records' and those the identifier names."""
    return sorted({*subject.keys, *candidate_keys(identifier)})
