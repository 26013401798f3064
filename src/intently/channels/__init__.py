"""Channels: where messages leave Intently. One port (`Channel.send`), several backends."""

from ._base import Channel, DeliveryError
from .http import HTTPChannel, LeadChannel, PushChannel, SMSChannel, sign, verify
from .log import LogChannel
from .smtp import SMTPChannel

__all__ = [
    "Channel",
    "DeliveryError",
    "HTTPChannel",
    "LeadChannel",
    "LogChannel",
    "PushChannel",
    "SMSChannel",
    "SMTPChannel",
    "sign",
    "verify",
]
