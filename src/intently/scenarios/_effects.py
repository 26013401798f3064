"""What scenarios produce: messages for the outbox and journal rows for the report. Both are
plain data with ids derived from (scenario, customer, entry, step), so a replay of the log
produces the same rows and the store keeps each once."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from ..channels import Message


class JournalRow(msgspec.Struct, frozen=True, array_like=True):
    """One thing that happened in a scenario: entered, sent, suppressed, converted, exited,
    opened, clicked, failed. `value` is revenue for a conversion; `ref` a message id or a
    reason."""

    id: str
    scenario: str
    profile_id: str
    arm: str
    kind: str
    ts: float
    value: float = 0.0
    ref: str = ""


ONCE_BY_CONSTRUCTION = frozenset({"entered", "exited", "converted", "sent"})
"""Journal kinds whose ids the journey's own counters make unique (an entry's number, the
message count, a journey converted once): nothing but a replay produces one again. The others
may come again with the same id (a suppression at a step a journey visits again, a message
opened twice), and the store keeps each once by its id."""


@dataclass
class Effects:
    messages: list[Message] = field(default_factory=list)
    journal: list[JournalRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.messages or self.journal)

    def take(self) -> Effects:
        out = Effects(self.messages, self.journal)
        self.messages, self.journal = [], []
        return out
