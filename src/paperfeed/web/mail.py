"""Account emails (password reset), sent through the delivery mailer's SMTP settings.

When no SMTP server accepts the message (none configured, or it is down) the
link is written to the log instead, so the operator of a fresh instance can
still reset a password; the link is never logged when the email went out.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

from paperfeed.app import Paperfeed
from paperfeed.catalogue.accounts import RESET_LIFETIME, User

log = logging.getLogger("paperfeed.web.mail")


def reset_message(pf: Paperfeed, user: User, link: str) -> EmailMessage:
    """The password reset email: plain text, one link."""
    hours = int(RESET_LIFETIME.total_seconds() // 3600)
    msg = EmailMessage()
    msg["Subject"] = "Reset your paperfeed password"
    msg["From"] = pf.settings.mail_from
    msg["To"] = user.email
    msg.set_content(
        f"Hello {user.name},\n\n"
        f"Someone (hopefully you) asked to reset the password of your paperfeed account.\n"
        f"Choose a new password here (the link works once, for {hours} hour):\n\n"
        f"{link}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return msg


def send_password_reset(pf: Paperfeed, user: User, link: str) -> None:
    """Email the reset link; log it when the email cannot be delivered."""
    try:
        from paperfeed.delivery.mailer import DeliveryError, send_now
    except ImportError:  # delivery not installed: the log is the only channel
        log.warning("password reset link for user %s: %s", user.id, link)
        return
    try:
        send_now(pf.settings, reset_message(pf, user, link))
    except (DeliveryError, OSError) as exc:
        log.warning(
            "could not email the password reset link for user %s (%s); link: %s",
            user.id,
            exc,
            link,
        )
    else:
        log.info("password reset link emailed to user %s", user.id)
