"""Channels: where messages leave Intently. One port (`Channel.send`), several backends."""

from ._base import Channel, DeliveryError
from ._message import Message
from ._outbound import Outbound
from .http import HTTPChannel, LeadChannel, PushChannel, SMSChannel, sign, verify
from .log import LogChannel
from .smtp import SMTPChannel

__all__ = [
    "Channel",
    "DeliveryError",
    "HTTPChannel",
    "LeadChannel",
    "LogChannel",
    "Message",
    "Outbound",
    "PushChannel",
    "SMSChannel",
    "SMTPChannel",
    "sign",
    "verify",
]
