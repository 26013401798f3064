"""One contract for every channel, each against a real local server: a message arrives
whole with its id; a provider's temporary failure is retryable, a permanent one is not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _receivers import certificate, http_receiver, smtp_server
from intently.channels import (
    Channel,
    DeliveryError,
    HTTPChannel,
    LeadChannel,
    LogChannel,
    Outbound,
    PushChannel,
    SMSChannel,
    SMTPChannel,
    verify,
)
from intently.scenarios import Message
from intently.testing import free_port

SECRET = b"s3cret"
LOCAL = Outbound(["127.0.0.1"])  # the test receivers listen on loopback: allowed by name


def message(channel: str, to: str) -> Message:
    return Message(id="welcome/c1/1/0/1", scenario="welcome", profile_id="c1", arm="main",
                   channel=channel, to=to, due=1_790_000_000.0, subject="Hello Ann",
                   body="<html><body><p>Hi Ann</p></body></html>",
                   data={"unsubscribe_url": "http://127.0.0.1:8000/u/tok", "note": "call her"})


@dataclass
class Case:
    channel: Channel
    msg: Message
    received: Any  # () -> list of what arrived, each as (id, text)
    fail: Any  # (permanent: bool) -> None: make the next delivery fail


FAILING = ["email", "webhook", "lead", "sms", "push"]  # channels whose provider can refuse


@pytest.fixture(params=[*FAILING, "log"])
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from _case(request.param)


@pytest.fixture(params=FAILING)
def failing_case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from _case(request.param)


def _case(kind: str) -> Iterator[Case]:
    if kind == "email":
        with smtp_server() as (controller, box):
            ch = SMTPChannel("127.0.0.1", controller.port, sender="shop@example.com")
            msg = message("email", "ann@example.com")

            def fail(permanent: bool) -> None:
                if permanent:
                    box.refuse.add("ann@example.com")
                else:
                    box.refuse.clear()
                    box.busy = True

            yield Case(ch, msg, lambda: [(m["X-Intently-Message"], m.as_string())
                                         for m in box.messages], fail)
            ch.close()
        return
    if kind == "log":
        ch = LogChannel()
        yield Case(ch, message("log", "c1"),
                   lambda: [(m.id, m.body) for m in ch.sent], None)
        return
    with http_receiver() as rx:
        cls = {"webhook": HTTPChannel, "lead": LeadChannel, "sms": SMSChannel,
               "push": PushChannel}[kind]
        url = f"{rx.url}/{kind}"
        ch = cls(None if kind == "webhook" else url, secret=SECRET, token="tok", outbound=LOCAL)
        msg = message(kind, url if kind == "webhook" else {"lead": "branch", "sms": "+4712345678",
                                                            "push": "device-1"}[kind])

        def fail_http(permanent: bool) -> None:
            rx.statuses.append(400 if permanent else 503)

        yield Case(ch, msg, lambda: [(r["headers"]["idempotency-key"], r["body"].decode())
                                     for r in rx.requests], fail_http)
        ch.close()


def test_a_message_arrives_whole_with_its_id(case: Case) -> None:
    case.channel.send(case.msg)
    [(mid, text)] = case.received()
    assert mid == case.msg.id
    assert "Hi Ann" in text or "call her" in text or case.msg.channel == "webhook"


def test_temporary_failures_are_retryable_and_permanent_ones_are_not(failing_case: Case
                                                                      ) -> None:
    case = failing_case
    case.fail(True)
    with pytest.raises(DeliveryError) as info:
        case.channel.send(case.msg)
    assert not info.value.retryable
    case.fail(False)
    with pytest.raises(DeliveryError) as info:
        case.channel.send(case.msg)
    assert info.value.retryable


def test_http_channels_sign_their_body() -> None:
    with http_receiver() as rx:
        HTTPChannel(secret=SECRET, outbound=LOCAL).send(message("webhook", rx.url + "/hook"))
        [req] = rx.requests
        assert verify(SECRET, req["body"], req["headers"]["x-intently-signature"])
        assert not verify(b"other", req["body"], req["headers"]["x-intently-signature"])


def test_email_carries_html_and_one_click_unsubscribe() -> None:
    with smtp_server() as (controller, box):
        SMTPChannel("127.0.0.1", controller.port).send(message("email", "ann@example.com"))
        [mail] = box.messages
        assert mail["Subject"] == "Hello Ann"
        assert mail["List-Unsubscribe"] == "<http://127.0.0.1:8000/u/tok>"
        assert any(part.get_content_type() == "text/html" for part in mail.walk())


def test_an_unreachable_server_is_retryable() -> None:
    with pytest.raises(DeliveryError) as info:
        SMTPChannel("127.0.0.1", free_port(), timeout=2).send(message("email", "a@b.c"))
    assert info.value.retryable
    with pytest.raises(DeliveryError) as info:
        HTTPChannel(timeout=2, outbound=LOCAL).send(
            message("webhook", f"http://127.0.0.1:{free_port()}/x"))
    assert info.value.retryable


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x", "http://10.1.2.3/x",
    "http://169.254.169.254/latest/meta-data/", "http://192.168.0.1/x", "file:///etc/passwd",
    "gopher://127.0.0.1/x"])
def test_private_addresses_and_other_schemes_are_refused_by_default(url: str) -> None:
    with pytest.raises(DeliveryError) as info:
        HTTPChannel(timeout=2).send(message("webhook", url))
    assert not info.value.retryable
    assert "outbound_allow" in str(info.value) or "not an http(s) URL" in str(info.value)


def test_the_allow_list_names_hosts_suffixes_and_networks() -> None:
    with http_receiver() as rx:
        port = rx.url.rsplit(":", 1)[1]
        for allow in (["localhost"], ["127.0.0.0/8"], ["*.localhost", "localhost"]):
            HTTPChannel(outbound=Outbound(allow)).send(
                message("webhook", f"http://localhost:{port}/hook"))
        assert len(rx.requests) == 3
    only = Outbound(["hooks.example.com"])
    with pytest.raises(DeliveryError, match="not on the outbound allow-list"):
        only.check("http://127.0.0.1:9/x")
    with pytest.raises(DeliveryError, match="private, loopback"):
        Outbound().check("http://localhost:9/x")


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """DNS rebinding: a name that would resolve elsewhere a moment after the check reaches
    nothing new, because the channel connects to the checked address itself (and keeps the
    name as the Host header)."""
    answers = [["127.0.0.1"], ["169.254.169.254"]]  # the second answer is never asked for

    def resolve(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        assert host == "hooks.test"
        return [(2, 1, 6, "", (ip, port)) for ip in answers.pop(0)]

    with http_receiver() as rx:
        port = int(rx.url.rsplit(":", 1)[1])
        outbound = Outbound(["127.0.0.0/8"], resolve=resolve)
        HTTPChannel(outbound=outbound).send(message("webhook", f"http://hooks.test:{port}/h"))
    [request] = rx.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["host"] == f"hooks.test:{port}" and request["path"] == "/h"
    assert answers == [["169.254.169.254"]]  # resolved once, for the check and the send
    target = Outbound(["hooks.test"], resolve=lambda h, p, **_: [
        (10, 1, 6, "", ("::1", p, 0, 0)), (2, 1, 6, "", ("127.0.0.1", p))]).check(
        "https://user:pw@hooks.test/x?y=1")
    assert target.urls == ("https://user:pw@[::1]:443/x?y=1",
                           "https://user:pw@127.0.0.1:443/x?y=1")
    assert (target.host, target.name, target.tls) == ("hooks.test", "hooks.test", True)


def test_over_https_the_certificate_is_checked_against_the_name(tmp_path: Path) -> None:
    """Connecting to the checked address, the channel still asks for and checks the URL's
    host name in the server's certificate (SNI): a certificate for another name fails."""
    import ssl

    import httpx

    cert, key = certificate("hooks.test", tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    local = Outbound(["hooks.test", "other.test"],
                     resolve=lambda h, p, **_: [(2, 1, 6, "", ("127.0.0.1", p))])
    with http_receiver(server) as rx:
        port = int(rx.url.rsplit(":", 1)[1])
        channel = HTTPChannel(outbound=local)
        channel.client = httpx.Client(verify=ssl.create_default_context(cafile=str(cert)))
        channel.send(message("webhook", f"https://hooks.test:{port}/tls"))
        with pytest.raises(DeliveryError, match=r"(?i)certificate"):
            channel.send(message("webhook", f"https://other.test:{port}/tls"))
        channel.close()
    assert [r["path"] for r in rx.requests] == ["/tls"]

