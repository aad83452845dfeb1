"""Signed links that confirm an email address: a new account's, or the new address
of a change. A link names the account and the address it confirms; it expires
after three days and can do nothing but make that address the account's
confirmed one (using it twice changes nothing the second time).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "paperfeed.verify-email"
MAX_AGE = 3 * 24 * 3600


class InvalidLink(ValueError):
    """A confirmation link that was tampered with, made for something else, or expired."""


@dataclass(frozen=True)
class EmailClaim:
    user_id: int
    email: str
    change: bool  # a change of address (rather than a new account's first one)


def make_link(base_url: str, secret_key: str, claim: EmailClaim) -> str:
    """The absolute URL of the confirmation page for this claim."""
    token = URLSafeTimedSerializer(secret_key, salt=SALT).dumps(
        [claim.user_id, claim.email, claim.change]
    )
    return f"{base_url.rstrip('/')}/account/confirm-email/{token}"


def read_link(secret_key: str, token: str) -> EmailClaim:
    """The claim a token carries; InvalidLink when the signature or age does not hold."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=MAX_AGE)
    except SignatureExpired as exc:
        raise InvalidLink("This link has expired: ask for a new one.") from exc
    except BadSignature as exc:
        raise InvalidLink("This link is not valid.") from exc
    if not (isinstance(data, list) and len(data) == 3 and isinstance(data[0], int)):
        raise InvalidLink("This link is not valid.")
    return EmailClaim(data[0], str(data[1]), bool(data[2]))
