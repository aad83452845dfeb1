"""Account emails (password reset, address confirmation), sent through the delivery
mailer's SMTP settings.

When no SMTP server accepts the message (none configured, or it is down) the
link is written to the log instead, so the operator of a fresh instance can
still reset a password; the link is never logged when the email went out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from paperfeed.app import Paperfeed
from paperfeed.catalogue.accounts import RESET_LIFETIME, User
from paperfeed.web import email_links

log = logging.getLogger("paperfeed.web.mail")

# Account mail that must not tell a stranger anything (reset links, sign-up
# confirmations and "someone tried your address" notices) leaves from here,
# after the answer: sending takes tens of milliseconds that only some
# addresses would otherwise spend, and that difference alone told a stranger
# which addresses have accounts. One thread: mails leave in order, and
# `flush_account_mail` is a barrier.
_account_mail = ThreadPoolExecutor(max_workers=1, thread_name_prefix="account-mail")


def send_later(send: Callable[..., object], *args: object) -> None:
    """Run `send(*args)` on the account-mail thread, after the answer went out."""
    _account_mail.submit(send, *args)


def flush_account_mail() -> None:
    """Wait until every account mail asked for so far has been handed to SMTP (or logged)."""
    _account_mail.submit(lambda: None).result()


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


def verify_message(pf: Paperfeed, to: str, name: str, link: str, change: bool) -> EmailMessage:
    """The email that confirms an address: a new account's, or the new one of a change."""
    msg = EmailMessage()
    msg["Subject"] = (
        "Confirm your new paperfeed email address" if change else ("Confirm your paperfeed account")
    )
    msg["From"] = pf.settings.mail_from
    msg["To"] = to
    why = (
        "Someone (hopefully you) asked to use this address for their paperfeed account."
        if change
        else "Someone (hopefully you) created a paperfeed account with this address."
    )
    msg.set_content(
        f"Hello {name},\n\n{why}\nConfirm it here (the link works for three days):\n\n"
        f"{link}\n\nIf this was not you, ignore this email: nothing changes.\n"
    )
    return msg


def signup_notice_message(pf: Paperfeed, user: User) -> EmailMessage:
    """Told to an account's owner when someone signs up with their address.

    Holds no visitor-typed text (the name or password typed in the form):
    only fixed wording and this site's own sign-in and reset links.
    """
    base = pf.settings.base_url.rstrip("/")
    msg = EmailMessage()
    msg["Subject"] = "Someone tried to sign up with your paperfeed address"
    msg["From"] = pf.settings.mail_from
    msg["To"] = user.email
    msg.set_content(
        f"Hello {user.name},\n\n"
        "Someone (maybe you) tried to create a paperfeed account with this address, which\n"
        "already has one. Nothing was changed.\n\n"
        f"To sign in: {base}/signin\n"
        f"Forgot your password? Ask for a reset link: {base}/forgot\n\n"
        "If this was not you, ignore this email: your account stays as it is.\n"
    )
    return msg


def send_signup_notice(pf: Paperfeed, user: User) -> None:
    """Tell an account's owner that someone tried to sign up with their address."""
    send_account_mail(pf, signup_notice_message(pf, user), f"sign-up notice for user {user.id}")


def send_password_reset(pf: Paperfeed, user: User, link: str) -> None:
    """Email the reset link; log it when the email cannot be delivered."""
    send_account_mail(pf, reset_message(pf, user, link), f"password reset link for user {user.id}")


def send_account_mail(pf: Paperfeed, msg: EmailMessage, what: str) -> bool:
    """Send one account email; when no server takes it, log `what` and the message's link.

    Returns whether the email went out.
    """
    link = next((w for w in msg.get_content().split() if w.startswith("http")), "")
    try:
        from paperfeed.delivery.mailer import DeliveryError, send_now
    except ImportError:  # delivery not installed: the log is the only channel
        log.warning("%s: %s", what, link)
        return False
    try:
        send_now(pf.settings, msg)
    except (DeliveryError, OSError) as exc:
        log.warning("could not email the %s (%s); link: %s", what, exc, link)
        return False
    log.info("%s emailed", what)
    return True


def send_confirmation(pf: Paperfeed, user: User, email: str, change: bool) -> bool:
    """Email the link that confirms `email` for this account; whether it went out."""
    claim = email_links.EmailClaim(user.id, email, change)
    link = email_links.make_link(pf.settings.base_url, pf.secret_key, claim)
    message = verify_message(pf, email, user.name, link, change)
    return send_account_mail(pf, message, f"email confirmation link for user {user.id}")
