"""Signed links in emails: confirm (expiring, single-use), manage and unsubscribe.

A token is an itsdangerous signature over (subscription id, a per-subscription
value) with a salt per purpose, so a manage link can never pass for a confirm
link. Single use and revocation come from the database, not the signature:
the confirm token carries `confirm_nonce`, which confirming clears; manage and
unsubscribe tokens carry `link_key`, which can be rotated to revoke them.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

CONFIRM = "paperfeed.confirm"
MANAGE = "paperfeed.manage"
UNSUBSCRIBE = "paperfeed.unsubscribe"
# A confirmation link is good for three days; manage/unsubscribe links do not
# expire (RFC 8058 expects an unsubscribe URL to keep working for a long time).
CONFIRM_MAX_AGE = 3 * 24 * 3600


class InvalidToken(ValueError):
    """A link whose signature is wrong, whose purpose differs, or that has expired."""


@dataclass(frozen=True)
class TokenPayload:
    subscription_id: int
    value: str


def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    # Only confirmation links expire, so only they carry a timestamp; the others
    # are the same string every time, which keeps a re-sent digest byte-identical.
    if purpose == CONFIRM:
        return URLSafeTimedSerializer(secret_key, salt=purpose)
    return URLSafeSerializer(secret_key, salt=purpose)


def make_token(secret_key: str, purpose: str, subscription_id: int, value: str) -> str:
    """Sign (subscription id, value) for one purpose."""
    return _serializer(secret_key, purpose).dumps([subscription_id, value])


def read_token(
    secret_key: str, purpose: str, token: str, max_age: int | None = None
) -> TokenPayload:
    """Check a token's signature (and age); raise InvalidToken when it does not hold."""
    serializer = _serializer(secret_key, purpose)
    try:
        if isinstance(serializer, URLSafeTimedSerializer):
            data = serializer.loads(token, max_age=max_age)
        else:
            data = serializer.loads(token)
    except SignatureExpired as exc:
        raise InvalidToken("this link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("this link is not valid") from exc
    if (
        not isinstance(data, list)
        or len(data) != 2
        or not isinstance(data[0], int)
        or not isinstance(data[1], str)
    ):
        raise InvalidToken("this link is not valid")
    return TokenPayload(data[0], data[1])
