"""Running scenarios for one customer at a time: pure and deterministic.

The engine calls `on_event` after segments have been evaluated for an event, and `wake` when
one of the customer's scenario timers is due (on event time, so a replay of the log fires them
exactly as the live run did). Both append messages and journal rows to `effects`; nothing here
does I/O.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._errors import ValidationError
from ..events import Event
from ..profiles import (
    OPT_IN,
    Profile,
    ScenarioProgress,
    ScenarioState,
    Times,
    new_times,
    permits,
    revenue_of,
    tag,
)
from ..segments import (
    ANY_EVENT,
    TRAITS,
    Change,
    Check,
    Field,
    carries_traits,
    compile_rule,
    fields_read,
)
from ._content import Renderer
from ._definition import EXIT, NEXT, Scenario, ScenarioError, Step
from ._effects import Effects, JournalRow, Message

WEEK = 7 * 86400.0
_NO_WINDOWS: dict[str, Times] = {}  # a record without windowed matches (read, never written)
MAX_STEPS = 64  # steps run for one journey at one moment (a guard against goto loops)
TRACKED = {"Email Opened": "opened", "Email Link Clicked": "clicked",
           "Push Opened": "opened", "SMS Link Clicked": "clicked"}

_log = logging.getLogger("intently.scenarios")


@lru_cache(maxsize=512)
def _zone(tz: str | None) -> tzinfo:
    """The customer's time zone; UTC when unknown or not a real zone."""
    if not tz:
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(ts: float, tz: str | None) -> datetime:
    return datetime.fromtimestamp(ts, _zone(tz))


def _next_hour(ts: float, tz: str | None, hour: int) -> float:
    """The next moment after `ts` when the customer's local clock shows `hour`:00."""
    now = local_time(ts, tz)
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at.timestamp() <= ts:
        at = (at + timedelta(days=1)).replace(hour=hour)
    return at.timestamp()


def _quiet(hour: int, quiet: tuple[int, int]) -> bool:
    start, end = quiet
    return (hour >= start or hour < end) if start > end else start <= hour < end


def _draw(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by its inputs: arms are assigned the same way on every
    replay and on every worker."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _birthday(value: Any, after: float, tz: str | None, hour: int, days_before: int
              ) -> float | None:
    """The next time, after `after`, to act on a yearly date held as YYYY-MM-DD or MM-DD."""
    text = str(value or "")
    try:
        month, day = (int(x) for x in text[-5:].split("-"))
        now = local_time(after, tz)
        for year in (now.year, now.year + 1, now.year + 2):
            try:
                d = date(year, month, day)
            except ValueError:  # 29 February in a common year
                continue
            fire = datetime(d.year, d.month, d.day, hour, tzinfo=now.tzinfo) - timedelta(
                days=days_before)
            ts = fire.timestamp()
            if ts > after:
                return ts
    except ValueError:
        return None
    return None


class ScenarioBook:
    """The scenarios in force and how to run them."""

    def __init__(self, scenarios: Iterable[Scenario], renderer: Renderer, *,
                 message_cap_per_day: int = 3,
                 recommend: Callable[[list[str], Profile], list[str]] | None = None,
                 fields: dict[str, Field] | None = None) -> None:
        self.renderer = renderer
        # fields the models in use add (`rfm.*`, `clv.*`), as segments read them
        self.fields: dict[str, Field] = fields or {}
        self.message_cap_per_day = message_cap_per_day
        # products to suggest, given a journey's items and the record (the engine plugs in the
        # offer rules: written and mined)
        self.recommend = recommend or (lambda items, p: [])
        self._items: list[str] = []
        self.effects = Effects()
        self.scenarios: dict[str, Scenario] = {}
        self.put_all(scenarios)

    def put_all(self, scenarios: Iterable[Scenario]) -> None:
        for s in scenarios:
            self.scenarios[s.name] = s
        self._rebuild()

    def put(self, scenario: Scenario) -> None:
        self.scenarios[scenario.name] = scenario
        self._rebuild()

    def remove(self, name: str) -> bool:
        found = self.scenarios.pop(name, None) is not None
        self._rebuild()
        return found

    def use_fields(self, fields: dict[str, Field]) -> None:
        """Read these model fields from now on (the engine's models changed)."""
        self.fields = fields
        self._rebuild()

    def _rebuild(self) -> None:
        live = sorted((s for s in self.scenarios.values() if s.enabled),
                      key=lambda s: (-s.policies.priority, s.name))
        fields = self.fields
        compiled = {s.name: compile_rule(s.audience, fields) for s in live if s.audience}
        self.audiences: dict[str, Check] = {name: c.check for name, c in compiled.items()}
        self.branches: dict[tuple[str, int], Check] = {
            (s.name, i): compile_rule(step.args["if"], fields).check
            for s in live for i, step in enumerate(s.steps) if step.action == "branch"}
        # inactivity waits always set as timers: an audience on a model's field (`rfm.*`,
        # `clv.*`) may answer otherwise when the model is replaced, which no record hears of
        # (and a wait of no time: it falls due at the event that sets it)
        self.unheld = {s.name for s in live if s.trigger.seconds <= 0 or (s.audience and any(
            f.partition(".")[0] in ("rfm", "clv") for f in fields_read(s.audience)))}
        # what can change a held wait's answer: its audience's inputs, as a segment's
        # triggers (the re-entry policy moves with the scenario's own journal rows)
        self.hold_inputs: dict[str, frozenset[str]] = {
            s.name: frozenset(compiled[s.name].triggers) if s.name in compiled else frozenset()
            for s in live if s.trigger.kind == "inactivity" and s.name not in self.unheld}
        self.by_event: dict[str, list[Scenario]] = {}
        self.inactivity: dict[str, list[Scenario]] = {}
        self.cancels: dict[str, list[Scenario]] = {}
        self.by_segment: dict[tuple[str, bool], list[Scenario]] = {}
        self.intent = [s for s in live if s.trigger.kind == "intent_above"]
        self.cluster = [s for s in live if s.trigger.kind == "cluster_change"]
        self.dates = [s for s in live if s.trigger.kind == "date"]
        self.goals = {s.goal_event for s in self.scenarios.values()}
        self.waits = {step.args["event"] for s in self.scenarios.values() for step in s.steps
                      if step.action == "wait_for"}
        for s in live:
            t = s.trigger
            if t.kind == "event":
                self.by_event.setdefault(t.name or "", []).append(s)
            elif t.kind == "inactivity":
                self.inactivity.setdefault(t.name or "", []).append(s)
                self.cancels.setdefault(t.without or "", []).append(s)
            elif t.kind in ("segment_enter", "segment_exit"):
                key = (t.name or "", t.kind == "segment_enter")
                self.by_segment.setdefault(key, []).append(s)

    # -- events
    def on_event(self, p: Profile, ev: Event, signals: tuple[str, ...], changes: list[Change],
                 intent_before: float, cluster_before: str | None, merged: bool = False
                 ) -> None:
        """Run the scenarios for one event (`merged`: it merged another record into `p`)."""
        if not self.scenarios and p.sc is None:
            return
        journaled = len(self.effects.journal)
        ts = ev.ts
        names = (ev.event, *signals) if ev.event else signals
        sc = p.sc
        if sc is not None:
            if ev.event in TRACKED:
                self._tracked(p, ev)
            if sc.journeys and (self.goals or self.waits):
                self._journeys_see(p, sc, names, ev, ts)
        if self.cancels and sc is not None and (sc.pending or sc.held):
            for name in names:
                for s in self.cancels.get(name, ()):
                    sc.pending.pop(s.name, None)
                    sc.held.pop(s.name, None)
        starts: list[Scenario] = []
        if self.by_event:
            for name in names:
                starts.extend(self.by_event.get(name, ()))
        held = False  # a wait was held by this event: ask about it at the end
        if self.inactivity:
            for name in names:
                for s in self.inactivity.get(name, ()):
                    state = self._state(p)
                    if s.name in self.unheld:
                        state.held.pop(s.name, None)
                        state.pending[s.name] = ts + s.trigger.seconds
                    else:  # held until the record could enter when it falls due (`release`)
                        state.pending.pop(s.name, None)
                        state.held[s.name] = ts + s.trigger.seconds
                        held = True
        if changes and self.by_segment:
            for c in changes:
                if c.profile_id == p.id:
                    starts.extend(self.by_segment.get((c.segment, c.entered), ()))
        if self.intent:
            after = p.intent
            for s in self.intent:
                if intent_before < s.trigger.threshold <= after:
                    starts.append(s)
        if self.cluster and p.cluster is not cluster_before and p.cluster is not None:
            for s in self.cluster:
                if s.trigger.name is None or s.trigger.name == p.cluster:
                    starts.append(s)
        if self.dates:
            for s in self.dates:
                value = p.traits.get(s.trigger.trait)
                if value and (p.sc is None or s.name not in p.sc.pending):
                    due = _birthday(value, ts, p.tz, s.trigger.hour, s.trigger.days_before)
                    if due is not None:
                        self._state(p).pending[s.name] = due
        journal = self.effects.journal
        if starts:
            self._items = _items_of(ev.properties)
            seen: set[str] = set()
            for s in sorted(starts, key=lambda s: (-s.policies.priority, s.name)):
                if s.name not in seen:
                    seen.add(s.name)
                    self.enter(p, s, ts)
            self._items = []
        sc = p.sc
        # held waits are asked again when this event could change the answer: it set one,
        # merged a record in, moved a journey (every entry, exit and conversion is journaled)
        # or is an input of a held wait's audience; and a wait past its time goes
        if sc is not None and sc.held and (held or merged or len(journal) != journaled
                                           or self._moves_held(sc, ev, names, ts)):
            self.release(p, ts)

    def on_segment_change(self, p: Profile, change: Change) -> None:
        """A segment entry or exit that time alone caused (no event of the customer's)."""
        for s in self.by_segment.get((change.segment, change.entered), ()):
            self.enter(p, s, change.ts)

    def _moves_held(self, sc: ScenarioState, ev: Event, names: tuple[str | None, ...],
                    ts: float) -> bool:
        """Whether this event is an input of a held wait's audience (as a segment's rule is
        re-evaluated on its triggers), or a held wait is past its time."""
        inputs = self.hold_inputs
        for name, due in sc.held.items():
            found = inputs.get(name)
            if found is None or due <= ts:  # (a scenario removed, changed or disabled, or a
                return True  # wait past its time: `release` sorts it out)
            if ANY_EVENT in found:
                return True
            if TRAITS in found and carries_traits(ev):
                return True
            for n in names:
                if n in found:
                    return True
        return False

    def release(self, p: Profile, now: float, *, due_now: bool = False) -> bool:
        """Look again at the record's held inactivity waits, after something changed it at
        `now`: a wait whose scenario would let the record in when it falls due, the record
        staying as it is, becomes a timer; one due by `now` goes (the record as it was then
        said no). Whether any moved.

        An inactivity wait is set on every trigger event (each product view, for browsing), and
        most of them find the audience or the re-entry policy closed when they fall due (the
        customer who already bought). Asked at once, the answer is the one the wake-up would
        give unless the record changes before: so the wait is held, without a timer, and asked
        again wherever the record changes (its events, its wake-ups, a segment that time moves,
        a merge, a model or a scenario replaced); it is woken only when it could enter."""
        sc = p.sc
        if sc is None or not sc.held:
            return False
        gone: list[str] | None = None
        admitted: list[str] | None = None
        scenarios = self.scenarios
        for name, due in sc.held.items():
            if due < now or (due == now and not due_now):
                gone = [name] if gone is None else [*gone, name]
                continue
            s = scenarios.get(name)
            if s is None or not s.enabled or self._admits(p, s, sc, due):
                admitted = [name] if admitted is None else [*admitted, name]
        if gone is not None:
            for name in gone:
                del sc.held[name]
        if admitted is not None:
            for name in admitted:
                sc.pending[name] = sc.held.pop(name)
        return gone is not None or admitted is not None

    def renderer_check(self, scenario: Scenario) -> None:
        """Raise a ScenarioError when a send step's template is missing or does not compile."""
        for i, step in enumerate(scenario.steps):
            if step.action != "send":
                continue
            path = f"$.steps[{i}].send"
            name = step.args.get("template")
            if name is not None and name not in self.renderer.sources:
                raise ScenarioError(f"no template {name!r}; shipped: "
                                    f"{', '.join(sorted(self.renderer.sources))}",
                                    f"{path}.template")
            for key in ("subject", "body"):
                if isinstance(step.args.get(key), str):
                    try:
                        self.renderer.check(step.args[key], f"{path}.{key}")
                    except ValidationError as exc:
                        raise ScenarioError(exc.message, exc.path) from None

    def _journeys_see(self, p: Profile, sc: ScenarioState, names: tuple[str, ...] | tuple[
            str | None, ...], ev: Event, ts: float) -> None:
        for name, j in list(sc.journeys.items()):
            s = self.scenarios.get(name)
            if s is None:
                continue
            if not j.converted and s.goal_event in names and ts <= j.goal_until:
                j.converted = True
                self._journal(p, name, j, "converted", ts, revenue_of(ev.properties or {}))
            if j.waiting is not None and j.waiting in names:
                step = s.steps[j.step]
                j.waiting = None
                j.wake = 0.0
                self._goto(p, s, j, step.args["then"], ts)
            if j.done and j.converted:
                self._close(sc, name, ts)

    def _tracked(self, p: Profile, ev: Event) -> None:
        props = ev.properties or {}
        mid, name, arm = props.get("message_id"), props.get("scenario"), props.get("arm")
        if isinstance(mid, str) and isinstance(name, str):
            kind = TRACKED[ev.event or ""]
            self.effects.journal.append(JournalRow(f"{kind[0]}:{mid}", name, p.id,
                                                   str(arm or ""), kind, ev.ts, 0.0, mid))

    # -- timers
    def next_due(self, p: Profile) -> float | None:
        sc = p.sc
        if sc is None:
            return None
        dues = [d for d in sc.pending.values()]
        for j in sc.journeys.values():
            if j.wake:
                dues.append(j.wake)
            if j.done:
                dues.append(j.goal_until)
        return min(dues) if dues else None

    def wake(self, p: Profile, now: float) -> None:
        """Run whatever of this customer's scenarios is due at `now`."""
        sc = p.sc
        if sc is None:
            return
        for name, due in sorted(sc.pending.items(), key=lambda kv: kv[1]):
            if due <= now:
                del sc.pending[name]
                s = self.scenarios.get(name)
                if s is not None and s.enabled:
                    self.enter(p, s, due)
                    if s.trigger.kind == "date":
                        again = _birthday(p.traits.get(s.trigger.trait), due + 1, p.tz,
                                          s.trigger.hour, s.trigger.days_before)
                        if again is not None:
                            sc.pending[name] = again
        for name, j in list(sc.journeys.items()):
            s = self.scenarios.get(name)
            if s is None:
                del sc.journeys[name]
                continue
            if j.wake and j.wake <= now:
                when = j.wake
                j.wake = 0.0
                if j.waiting is not None:  # wait_for timed out
                    step = s.steps[j.step]
                    j.waiting = None
                    self._goto(p, s, j, step.args["timeout"], when)
                else:
                    self._run(p, s, j, when)
            if j.done and j.goal_until <= now and sc.journeys.get(name) is j:
                self._close(sc, name, j.goal_until)
        if sc.held:
            self.release(p, now)

    # -- journeys
    def _state(self, p: Profile) -> ScenarioState:
        if p.sc is None:
            p.sc = ScenarioState()
        return p.sc

    def _admits(self, p: Profile, s: Scenario, sc: ScenarioState, ts: float) -> bool:
        """Whether the record may enter `s` at `ts`: its re-entry policy, then its audience."""
        old = sc.journeys.get(s.name)
        pol = s.policies
        if old is not None and not old.done:
            return False  # one live journey per scenario
        if pol.reentry == "never" and sc.entries.get(s.name):
            return False
        if pol.reentry == "cooldown":  # counted from the previous entry
            last = old.entered if old is not None else sc.exited.get(s.name, -1e18)
            if ts - last < pol.cooldown_s:
                return False
        check = self.audiences.get(s.name)
        if check is None:
            return True
        windows = p.windows
        return check.holds(p, ts, _NO_WINDOWS if windows is None else windows)

    def enter(self, p: Profile, s: Scenario, ts: float) -> bool:
        sc = self._state(p)
        if not self._admits(p, s, sc, ts):
            return False
        old = sc.journeys.get(s.name)
        if old is not None:
            self._close(sc, s.name, ts)
        n = sc.entries.get(s.name, 0) + 1
        sc.entries[s.name] = n
        u = _draw(s.name, p.id, n)
        if u < s.holdout:
            arm = "holdout"
        elif s.variants:
            v = (u - s.holdout) / (1.0 - s.holdout) * sum(s.variants.values())
            arm = next(iter(s.variants))
            for name, weight in s.variants.items():
                arm = name
                if v < weight:
                    break
                v -= weight
        else:
            arm = "main"
        j = ScenarioProgress(step=0, arm=arm, entered=ts, n=n, goal_until=ts + s.goal_s,
                    items=self._items)
        sc.journeys[s.name] = j
        self._journal(p, s.name, j, "entered", ts)
        if arm == "holdout":
            j.step = len(s.steps)
            j.done = True
        else:
            self._run(p, s, j, ts)
        return True

    def _close(self, sc: ScenarioState, name: str, ts: float) -> None:
        sc.journeys.pop(name, None)
        sc.exited[name] = ts

    def _goto(self, p: Profile, s: Scenario, j: ScenarioProgress, target: str, ts: float) -> None:
        if target == EXIT:
            self._finish(p, s, j, ts)
            return
        j.step = j.step + 1 if target == NEXT else s.labels[target]
        self._run(p, s, j, ts)

    def _finish(self, p: Profile, s: Scenario, j: ScenarioProgress, ts: float) -> None:
        j.step = len(s.steps)
        j.done = True
        j.waiting = None
        j.wake = 0.0
        self._journal(p, s.name, j, "exited", ts)
        if j.converted or j.goal_until <= ts:
            self._close(self._state(p), s.name, ts)

    def _run(self, p: Profile, s: Scenario, j: ScenarioProgress, ts: float) -> None:
        steps = s.steps
        for _ in range(MAX_STEPS):
            if j.step >= len(steps):
                self._finish(p, s, j, ts)
                return
            step = steps[j.step]
            action = step.action
            if action == "wait":
                j.step += 1
                j.wake = ts + step.args["seconds"]
                return
            if action == "wait_for":
                j.waiting = step.args["event"]
                j.wake = ts + step.args["seconds"]
                return
            if action == "exit":
                self._finish(p, s, j, ts)
                return
            if action == "goto":
                target = step.args["to"]
            elif action == "branch":
                check = self.branches[(s.name, j.step)]
                target = step.args["then"] if check.holds(p, ts, p.windows or {}) else (
                    step.args["else"])
            elif action == "split":
                target = step.args.get(j.arm, NEXT)
            else:
                if action == "send" and not self._send(p, s, j, step, ts):
                    return  # deferred to the end of quiet hours or the best hour
                if action == "update":  # traits, and tags a marketer keeps in `traits.tags`
                    traits = {**p.traits, **step.args["traits"]}
                    if step.args["tags"]:
                        old = traits.get("tags")
                        have = list(old) if isinstance(old, list) else []
                        traits["tags"] = have + [t for t in step.args["tags"] if t not in have]
                    p.traits = traits
                elif action in ("webhook", "lead"):
                    self._emit(p, s, j, step, ts, action, step.args.get("url") or
                               step.args.get("team", "sales"), "", "",
                               {"body": step.args.get("body"), "note": step.args.get("note"),
                                "customer": _summary(p)})
                target = NEXT
            if target == EXIT:
                self._finish(p, s, j, ts)
                return
            j.step = j.step + 1 if target == NEXT else s.labels[target]
        self._journal(p, s.name, j, "failed", ts, ref="too many steps at once (a goto loop?)")
        _log.warning("scenario stopped: too many steps at once (a goto loop?)", extra={
            "scenario": s.name, "profile_id": p.id})
        self._finish(p, s, j, ts)

    def _send(self, p: Profile, s: Scenario, j: ScenarioProgress, step: Step, ts: float) -> bool:
        """Send now, suppress (returns True: go on), or defer (returns False: wake later)."""
        pol = s.policies
        channel = step.args["channel"]
        sc = self._state(p)
        if pol.consent and channel in OPT_IN and not permits(p, channel):
            # the one consent rule (`profiles.permits`), as for decisions and analytics
            self._journal(p, s.name, j, "suppressed", ts, ref=f"no {channel} consent")
            return True
        to = _address(p, channel)
        if to is None:
            self._journal(p, s.name, j, "suppressed", ts, ref=f"no {channel} address")
            return True
        if not j.deferred and channel in OPT_IN:
            later = self._send_time(p, s, ts)
            if later is not None:
                j.deferred = True
                j.wake = later
                return False
        j.deferred = False
        recent = _recent(sc.sent, ts, 86400.0)
        if recent >= self.message_cap_per_day:
            self._journal(p, s.name, j, "suppressed", ts, ref="daily message cap")
            return True
        if pol.cap_count is not None:
            mine = sc.sent_by.get(s.name)
            if mine is not None and _recent(mine, ts, pol.cap_seconds) >= pol.cap_count:
                self._journal(p, s.name, j, "suppressed", ts, ref="scenario cap")
                return True
        self._emit(p, s, j, step, ts, channel, to, step.args.get("subject", ""),
                   step.args.get("body", ""), {"offer": step.args.get("offer")})
        _remember(sc, s.name, ts)
        return True

    def _send_time(self, p: Profile, s: Scenario, ts: float) -> float | None:
        """When a send held for an hour goes out (None: now): the hour, plus the customer's
        own moment within the scenario's spread (the same moment in every scenario, so that
        one wake-up sends all that the customer's scenarios held for that hour)."""
        pol = s.policies
        hour = local_time(ts, p.tz).hour
        at: float | None = None
        if pol.quiet_hours is not None and _quiet(hour, pol.quiet_hours):
            at = _next_hour(ts, p.tz, pol.quiet_hours[1])
        elif pol.send_time == "best_hour":
            best = tag(p, "best_send_hour", ts)
            if best is not None and best != hour and not (
                    pol.quiet_hours is not None and _quiet(best, pol.quiet_hours)):
                at = _next_hour(ts, p.tz, best)
        if at is None or not pol.spread_s:
            return at
        return at + int(_draw("spread", p.id) * pol.spread_s)

    def _emit(self, p: Profile, s: Scenario, j: ScenarioProgress, step: Step, ts: float,
              channel: str, to: str, subject: str, body: str, data: dict[str, Any]) -> None:
        j.k += 1
        mid = f"{s.name}/{p.id}/{j.n}/{j.step}/{j.k}"
        if step.action == "send":
            try:
                items = j.items
                recommend = self.recommend
                extra: dict[str, Any] = {"items": items, "offer": step.args.get("offer")}
                ref = {"m": mid, "p": p.id, "c": channel, "a": j.arm}
                # product picks cost a look-up of the offer rules: only for a template that
                # shows them
                subject, body, unsubscribe_url = self.renderer.render(
                    step.args, p, ts, ref, extra,
                    {"recommendations": lambda: recommend(items, p)})
            except ValidationError as exc:
                self._journal(p, s.name, j, "failed", ts, ref=exc.message)
                _log.warning("message not sent: its content failed", extra={
                    "scenario": s.name, "profile_id": p.id, "message_id": mid,
                    "error": exc.message})
                return
            data["unsubscribe_url"] = unsubscribe_url
        data = {k: v for k, v in data.items() if v is not None}
        self.effects.messages.append(Message(mid, s.name, p.id, j.arm, channel, to, ts,
                                             subject, body, data))
        self._journal(p, s.name, j, "sent", ts, ref=mid)

    def _journal(self, p: Profile, name: str, j: ScenarioProgress, kind: str, ts: float,
                 value: float = 0.0, ref: str = "") -> None:
        rid = f"{kind}:{name}/{p.id}/{j.n}" + (f"/{j.step}/{j.k}" if kind in (
            "sent", "suppressed", "failed") else "")
        self.effects.journal.append(JournalRow(rid, name, p.id, j.arm, kind, ts, value, ref))


def _address(p: Profile, channel: str) -> str | None:
    traits = p.traits
    if channel == "email":
        email = traits.get("email")
        if email:
            return str(email)
        return next((k[2:] for k in p.identities if k.startswith("e:")), None)
    if channel == "sms":
        phone = traits.get("phone")
        return str(phone) if phone else next(
            (k[2:] for k in p.identities if k.startswith("p:")), None)
    if channel == "push":
        token = traits.get("push_token")
        return str(token) if token else None
    return p.id


def _recent(times: Times, now: float, window: float) -> int:
    since = now - window
    return sum(1 for t in times if since < t <= now)


def _remember(sc: ScenarioState, name: str, ts: float) -> None:
    for times in (sc.sent, sc.sent_by.setdefault(name, new_times())):
        while times and times[0] < ts - WEEK:
            times.pop(0)
        times.append(ts)


def _items_of(props: dict[str, Any] | None) -> list[str]:
    """Product names (else ids) of an event: Segment's `products` list or a single product."""
    if not props:
        return []
    lines = props.get("products")
    found = []
    for line in lines if isinstance(lines, list) else [props]:
        if isinstance(line, dict):
            name = line.get("name") or line.get("product_id") or line.get("sku")
            if name:
                found.append(str(name))
    return found[:20]


def _summary(p: Profile) -> dict[str, Any]:
    return {"id": p.id, "user_id": p.user_id, "traits": p.traits, "intent": round(p.intent, 4),
            "cluster": p.cluster, "key_action": p.key_action, "orders": p.orders,
            "revenue": p.revenue}
