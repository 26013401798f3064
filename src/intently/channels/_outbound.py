"""Where the HTTP channels may send: a scenario's webhook URL is written by whoever edits
scenarios, and a provider's URL by whoever edits settings, so neither may reach the machine's
own services or the private network unless the allow-list names them (server-side request
forgery). Every address a host name resolves to is checked, at each send, and the
connection goes to the addresses checked (`Target`): a name that resolves to a public
address at the check and to a private one a moment later (DNS rebinding) reaches nothing
new."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._base import DeliveryError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


Resolve = Callable[..., list[tuple[Any, ...]]]
"""`socket.getaddrinfo`'s shape (tests give one of their own)."""


@dataclass(frozen=True)
class Target:
    """Where a checked URL is sent: to each of `urls` in turn (the host replaced by an
    address that was checked), with `host` as the Host header and, for https, `name` as the
    name the certificate must carry (SNI)."""

    urls: tuple[str, ...]
    host: str
    name: str
    tls: bool


def _private(ip: Address) -> bool:
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


class Outbound:
    """`allow`: host names (`hooks.example.com`), suffixes (`*.example.com`), addresses or
    networks (`127.0.0.1`, `10.0.0.0/8`). Empty: any host whose addresses are all public.
    Not empty: only the hosts it names. A private, loopback or link-local address is
    refused unless its host name or its network is on the list."""

    def __init__(self, allow: Sequence[str] = (), resolve: Resolve = socket.getaddrinfo
                 ) -> None:
        self._resolve = resolve
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[Network] = []
        for entry in (a.strip().lower() for a in allow if a.strip()):
            if entry.startswith("*."):
                self.suffixes.append(entry[1:])
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry)

    def _named(self, host: str) -> bool:
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def check(self, url: str) -> Target:
        """Where to send `url`: its checked addresses. Raise DeliveryError (not retryable,
        unless the name does not resolve now) when it may not be sent to."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise DeliveryError(f"{url!r} is not an http(s) URL", retryable=False)
        named = self._named(host)
        listed = bool(self.names or self.suffixes or self.networks)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = self._resolve(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DeliveryError(f"{host} does not resolve: {exc}") from None
        if not infos:
            raise DeliveryError(f"{host} does not resolve")
        checked: list[str] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            in_network = any(ip in net for net in self.networks)
            if listed and not (named or in_network):
                raise DeliveryError(f"{host} is not on the outbound allow-list "
                                    "(setting outbound_allow)", retryable=False)
            if _private(ip) and not (named or in_network):
                raise DeliveryError(
                    f"{host} resolves to {ip}, a private, loopback or link-local address: "
                    "refused unless outbound_allow names it", retryable=False)
            literal = f"[{ip}]" if ip.version == 6 else str(ip)
            if literal not in checked:
                checked.append(literal)
        userinfo, _, netloc = parts.netloc.rpartition("@")
        login = f"{userinfo}@" if userinfo else ""
        return Target(tuple(urlunsplit((parts.scheme, f"{login}{a}:{port}", parts.path or "/",
                                        parts.query, "")) for a in checked),
                      netloc, host, parts.scheme == "https")
