"""Email over SMTP (the standard library's client), one connection reused across messages."""

from __future__ import annotations

import contextlib
import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ._base import DeliveryError
from ._message import Message


class SMTPChannel:
    name = "email"

    def __init__(self, host: str, port: int = 25, *, sender: str = "Intently <noreply@localhost>",
                 user: str | None = None, password: str | None = None, starttls: bool = False,
                 timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            conn.starttls()
        if self.user:
            conn.login(self.user, self.password or "")
        return conn

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(message.due, usegmt=True)
        # the outbox id rides along: a receiving system can drop a resend after a crash
        mail["Message-ID"] = make_msgid(idstring=message.id.replace("/", "."), domain="intently")
        mail["X-Intently-Message"] = message.id
        unsubscribe = message.data.get("unsubscribe_url")
        if unsubscribe:
            mail["List-Unsubscribe"] = f"<{unsubscribe}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if "<" in message.body:
            mail.set_content("This message is best read as HTML.")
            mail.add_alternative(message.body, subtype="html")
        else:
            mail.set_content(message.body)
        return mail

    def send(self, message: Message) -> None:
        mail = self.build(message)
        with self._lock:
            for attempt in (1, 2):  # a pooled connection may have been closed by the server
                try:
                    if self._conn is None:
                        self._conn = self._connect()
                    self._conn.send_message(mail)
                    return
                except smtplib.SMTPRecipientsRefused as exc:
                    raise DeliveryError(f"recipient refused: {exc.recipients}",
                                        retryable=False) from None
                except smtplib.SMTPResponseException as exc:
                    self._drop()
                    raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                        retryable=exc.smtp_code < 500) from None
                except (smtplib.SMTPException, OSError) as exc:
                    self._drop()
                    if attempt == 2:
                        raise DeliveryError(f"SMTP connection failed: {exc}") from None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._conn.quit()
                self._conn = None
