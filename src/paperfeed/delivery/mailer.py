"""SMTP delivery with a hook just before the message is committed to the server.

`smtplib.sendmail` writes the DATA terminator ("." on a line of its own) and
reads the reply in one call. The outbox needs to record, durably, the moment
after which the server may hold the message, so `Mailer.send` drives the
transaction itself: MAIL, RCPT, DATA, the body, then `before_commit()`, then
the terminator. A crash before the terminator leaves the server with an
aborted transaction, which it discards.

Failures are classified for the outbox: `TemporaryFailure` (4xx replies,
timeouts, dropped connections: retry later) and `PermanentFailure` (5xx: do
not retry; `hard_bounce` when the server refused the recipient itself).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import parseaddr

from paperfeed.config import Settings
from paperfeed.delivery.mime import Outgoing

TIMEOUT = 30.0
_LEADING_DOT = re.compile(rb"(?m)^\.")


class DeliveryError(Exception):
    """An SMTP attempt that did not end with the server accepting the message."""

    def __init__(self, code: int | None, message: str, stage: str) -> None:
        super().__init__(f"{code or ''} {message} (at {stage})".strip())
        self.code = code
        self.message = message
        self.stage = stage


class TemporaryFailure(DeliveryError):
    """Worth retrying later: a 4xx reply or a network problem."""


class PermanentFailure(DeliveryError):
    """A 5xx reply: retrying the same message will not help."""

    @property
    def hard_bounce(self) -> bool:
        # The server refused the address itself (no such user, domain, mailbox);
        # 552 is "storage exceeded", which RFC 5321 §4.5.3.1.10 says to treat as temporary.
        return self.stage == "rcpt" and self.code not in (552,)


def _fail(code: int, reply: bytes, stage: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if 500 <= code < 600 and code != 552:
        return PermanentFailure(code, text, stage)
    return TemporaryFailure(code, text, stage)


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire: CRLF line ends, headers folded per RFC 5322."""
    return msg.as_bytes(policy=SMTP_POLICY)


class Mailer:
    """One SMTP connection, opened on first use and reused for many messages."""

    def __init__(self, settings: Settings, timeout: float = TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=self.timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
        # The DATA terminator goes out as its own small write, after the
        # outbox is marked; without TCP_NODELAY, Nagle's algorithm holds it
        # until the server's delayed ACK (~40 ms) arrives, for every message.
        if smtp.sock is not None:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp.ehlo()
        if s.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password)
        return smtp

    def close(self) -> None:
        """Say QUIT (politely, best effort) and drop the connection."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        msg: EmailMessage | Outgoing,
        *,
        before_commit: Callable[[], None] = lambda: None,
    ) -> str:
        """Deliver one message; call `before_commit` just before the DATA terminator.

        Returns the server's reply to the DATA (its queue id, usually).
        Raises TemporaryFailure or PermanentFailure; an exception from
        `before_commit` aborts the transaction before the server accepts it.
        """
        if isinstance(msg, Outgoing):
            sender, recipient, data = msg.sender, msg.recipient, msg.data
        else:
            sender = parseaddr(str(msg["From"]))[1]
            recipient = parseaddr(str(msg["To"]))[1]
            data = message_bytes(msg)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            code, reply = smtp.mail(sender)
            if code != 250:
                smtp.rset()
                raise _fail(code, reply, "mail")
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                raise _fail(code, reply, "rcpt")
            code, reply = smtp.docmd("DATA")
            if code != 354:
                smtp.rset()
                raise _fail(code, reply, "data")
            body = _LEADING_DOT.sub(b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            smtp.send(body)
            try:
                before_commit()
            except BaseException:
                # Without the terminator the server never accepts the message:
                # dropping the connection aborts its mail transaction.
                self._smtp.close()
                self._smtp = None
                raise
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
            if code != 250:
                raise _fail(code, reply, "data-end")
            return reply.decode("utf-8", "replace")
        except DeliveryError:
            raise
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _fail(exc.smtp_code, exc.smtp_error, "connect") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporaryFailure(None, str(exc) or type(exc).__name__, "connection") from exc

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def send_now(settings: Settings, msg: EmailMessage) -> None:
    """Send one transactional email (a confirmation) at once; raises DeliveryError."""
    with Mailer(settings) as mailer:
        mailer.send(msg)
