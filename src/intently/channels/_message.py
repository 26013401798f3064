"""What a channel delivers."""

from __future__ import annotations

from typing import Any

import msgspec


class Message(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    scenario: str
    profile_id: str
    arm: str
    channel: str  # email, sms, push, webhook, lead, log
    to: str  # address, phone, push token, URL, team
    due: float  # when it may go out (event time of the step)
    subject: str = ""
    body: str = ""
    data: dict[str, Any] = {}
