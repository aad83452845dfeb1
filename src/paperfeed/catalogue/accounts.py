"""Users, sessions, votes, rate limits and password resets: the writer of account tables.

Every function takes a connection that is already inside the caller's
transaction (one request = one transaction); none of them commits. Secrets
(session, reset and API tokens) are random, handed to the user once, and
stored only as their SHA-256, so a copy of the database opens no account.
Submitted papers are recorded here too; the papers themselves are written
by the catalogue, never here.

Size: users, sessions, tokens, votes and their rate limits share the address
normalisation and the one-transaction-per-request contract; split it when another table
joins them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.model import normalise_arxiv_id, normalise_title

SESSION_LIFETIME = timedelta(days=30)
# A session's expiry slides forward at most this often (saves a write per request).
SESSION_REFRESH = timedelta(hours=1)
RESET_LIFETIME = timedelta(hours=1)
MIN_PASSWORD = 8
MAX_PASSWORD = 1_024
MAX_EMAIL = 254
RESET_LINK_DEAD = "This reset link is invalid, used or expired. Please ask for a new one."

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# argon2id with the library's defaults (RFC 9106 "low memory" profile).
_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("paperfeed-dummy-password")


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message is user-safe."""


class EmailTaken(AccountError):
    """Sign-up with an email that already has an account."""


class SubmissionLimit(AccountError):
    """An account submitted more papers this hour than SUBMISSIONS_PER_HOUR."""


# Papers one account may submit per hour (arXiv ids and forms together): one
# account must not be able to publish dozens of papers at once.
SUBMISSIONS_PER_HOUR = 10


def _count_submission(conn: psycopg.Connection, user_id: int) -> None:
    bucket = f"submit:user:{user_id}"
    if not hit_rate_limit(conn, bucket, SUBMISSIONS_PER_HOUR, timedelta(hours=1)):
        raise SubmissionLimit(
            f"You can submit {SUBMISSIONS_PER_HOUR} papers an hour. Please try again later."
        )


class AlreadyKnown(AccountError):
    """A submitted paper the catalogue (or the submission queue) already has."""

    def __init__(self, message: str, paper_id: int | None = None) -> None:
        super().__init__(message)
        self.paper_id = paper_id


@dataclass(frozen=True)
class User:
    """A signed-up user, as the rest of the app sees one."""

    id: int
    email: str
    display_name: str
    is_admin: bool = False

    @property
    def name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]


_USER_COLUMNS = "u.id, u.email, u.display_name, u.is_admin"


def _user(row: dict) -> User:
    return User(row["id"], row["email"], row["display_name"], row["is_admin"])


def token_hash(token: str) -> str:
    """The stored form of a secret token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    """Trim and validate an email address; raise AccountError when it cannot be one."""
    value = (email or "").strip()
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise AccountError("Please enter a valid email address.")
    return value


def email_key(email: str) -> str:
    """The one comparable form of an address: NFKC, case-folded, NFKC again.

    Used both to find the account and to name its sign-in limit, so spellings
    of one address (upper case, full-width letters) share one bucket, and a
    look-alike that is a different string (`İ` for `i`) is a different,
    unknown address rather than a second bucket for the same account.
    """
    text = unicodedata.normalize("NFKC", (email or "").strip())
    return unicodedata.normalize("NFKC", text.casefold())


# Failed sign-ins an account gets for free; after that each further attempt must
# wait (15 s, then twice as long as the last), up to the cap. The owner is never locked out
# for longer than the cap, and a guesser gets about one try per cap.
FREE_FAILURES = 5
MAX_BACKOFF = timedelta(seconds=60)


def signin_wait(conn: psycopg.Connection, key: str) -> int:
    """Seconds until the address `key` may try a password again (0: now)."""
    row = conn.execute(
        "SELECT hits, extract(epoch FROM window_start - now()) AS ago FROM rate_limits"
        " WHERE bucket = %s",
        ("signin-fail:" + key[:280],),
    ).fetchone()
    if row is None or row["hits"] < FREE_FAILURES:
        return 0
    delay = min(15 * 2 ** (row["hits"] - FREE_FAILURES), MAX_BACKOFF.total_seconds())
    return max(0, int(delay + float(row["ago"]) + 0.999))


def record_signin(conn: psycopg.Connection, key: str, ok: bool) -> None:
    """Count a failed sign-in for the address (or forget its failures after a success)."""
    bucket = "signin-fail:" + key[:280]
    if ok:
        conn.execute("DELETE FROM rate_limits WHERE bucket = %s", (bucket,))
        return
    conn.execute(
        "INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES (%s, now(), 1)"
        " ON CONFLICT (bucket) DO UPDATE SET hits = r.hits + 1, window_start = now()",
        (bucket,),
    )


def check_password(password: str) -> None:
    """Raise AccountError when a new password is too short or absurdly long."""
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Passwords are limited to {MAX_PASSWORD} characters.")


def hash_password(password: str) -> str:
    """The argon2id hash of a password: CPU-bound (~0.1-1 s), so never call it in a transaction."""
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches `stored` (CPU-bound like `hash_password`)."""
    try:
        return _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False


def check_new_account(email: str, password: str) -> str:
    """The normalised address of a sign-up, after checking both fields (no database)."""
    email = normalise_email(email)
    check_password(password)
    return email


def insert_user(
    conn: psycopg.Connection, email: str, password_hash: str, display_name: str = ""
) -> User | None:
    """Add an account with an already computed hash; None when the address is taken."""
    name = " ".join((display_name or "").split())[:80]
    row = conn.execute(
        "INSERT INTO users (email, password_hash, display_name) VALUES (%s, %s, %s)"
        " ON CONFLICT ((lower(email))) DO NOTHING"
        " RETURNING id, email, display_name, is_admin",
        (email, password_hash, name),
    ).fetchone()
    return _user(row) if row else None


def create_user(
    conn: psycopg.Connection, email: str, password: str, display_name: str = ""
) -> User:
    """Sign a user up (CLI, tests); raise EmailTaken or AccountError on bad input.

    Hashes inside the caller's transaction: the web sign-up hashes first
    (`check_new_account`, then `insert_user`) so no connection waits on argon2.
    """
    email = check_new_account(email, password)
    user = insert_user(conn, email, hash_password(password), display_name)
    if user is None:
        raise EmailTaken("An account with this email already exists.")
    return user


def login_candidate(conn: psycopg.Connection, email: str) -> tuple[User | None, str]:
    """The account of this address and its stored hash; the dummy hash when there is none.

    The caller verifies the password against the returned hash *after* its
    transaction, so an unknown address costs the same argon2 work as a known one.
    """
    key = email_key(email)
    row = conn.execute(
        "SELECT " + _USER_COLUMNS + ", u.password_hash FROM users u"  # noqa: S608 - constant column list
        " WHERE lower(u.email) = lower(%s)",
        (key,),
    ).fetchone()
    if row is None or email_key(row["email"]) != key:
        return None, _DUMMY_HASH  # none, or the database's lower() matched a look-alike
    return _user(row), row["password_hash"]


def user_by_email(conn: psycopg.Connection, email: str) -> User | None:
    """The account whose address is this one (compared as `email_key` does)."""
    return login_candidate(conn, email)[0]


def stored_hash(conn: psycopg.Connection, user_id: int) -> str | None:
    """An account's password hash (to verify outside the transaction)."""
    row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    return row["password_hash"] if row else None


def complete_login(
    conn: psycopg.Connection, user: User, checked_hash: str, new_hash: str | None = None
) -> bool:
    """Record a successful password check; False if the password changed since it was read.

    `checked_hash` is the hash the password was verified against; `new_hash`
    replaces it when its parameters were outdated.
    """
    row = conn.execute(
        "UPDATE users SET last_login_at = now(), password_hash = coalesce(%s, password_hash)"
        " WHERE id = %s AND password_hash = %s RETURNING id",
        (new_hash, user.id, checked_hash),
    ).fetchone()
    return row is not None


def authenticate(conn: psycopg.Connection, email: str, password: str) -> User | None:
    """The user whose email and password these are, or None.

    Hashes inside the caller's transaction (CLI, tests); the web app reads with
    `login_candidate`, verifies outside, and records with `complete_login`.
    """
    user, stored = login_candidate(conn, email)
    if not verify_password(stored, password) or user is None:
        return None
    new_hash = hash_password(password) if needs_rehash(stored) else None
    return user if complete_login(conn, user, stored, new_hash) else None


def get_user(conn: psycopg.Connection, user_id: int) -> User | None:
    """A user by id."""
    row = conn.execute(
        "SELECT " + _USER_COLUMNS + " FROM users u WHERE u.id = %s",  # noqa: S608
        (user_id,),
    ).fetchone()
    return _user(row) if row else None


def create_session(conn: psycopg.Connection, user_id: int, user_agent: str = "") -> str:
    """Open a session for a user; return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, expires_at, user_agent)"
        " VALUES (%s, %s, now() + %s, %s)",
        (token_hash(token), user_id, SESSION_LIFETIME, user_agent[:300]),
    )
    return token


def session_user(conn: psycopg.Connection, token: str) -> User | None:
    """The user of a live session token, sliding its expiry forward now and then."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    row = conn.execute(
        "SELECT " + _USER_COLUMNS + ", s.last_seen_at < now() - %s AS stale"  # noqa: S608 - constant column list
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = %s AND s.expires_at > now()",
        (SESSION_REFRESH, digest),
    ).fetchone()
    if row is None:
        return None
    if row["stale"]:
        conn.execute(
            "UPDATE sessions SET last_seen_at = now(), expires_at = now() + %s"
            " WHERE token_hash = %s",
            (SESSION_LIFETIME, digest),
        )
    return _user(row)


def end_session(conn: psycopg.Connection, token: str) -> None:
    """Sign out: forget one session."""
    conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash(token or ""),))


def end_all_sessions(conn: psycopg.Connection, user_id: int) -> None:
    """Forget every session of a user (after a password reset)."""
    conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))


def revoke_tokens(conn: psycopg.Connection, user_id: int) -> int:
    """Delete every API token of a user; return how many there were.

    Called whenever the password changes (a reset or a change on the account
    page): whoever knew the old password may have minted tokens with it, and
    a token must not outlive the credential that made it.
    """
    return conn.execute("DELETE FROM api_tokens WHERE user_id = %s", (user_id,)).rowcount


def purge_expired(conn: psycopg.Connection) -> int:
    """Delete expired sessions, reset tokens and old rate-limit windows; return rows removed."""
    removed = 0
    for sql in (
        "DELETE FROM sessions WHERE expires_at < now()",
        "DELETE FROM password_resets WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'",
    ):
        removed += conn.execute(sql).rowcount
    return removed


def hit_rate_limit(conn: psycopg.Connection, bucket: str, limit: int, window: timedelta) -> bool:
    """Count one attempt in a fixed window; False when the bucket is over its limit.

    One upsert both resets an expired window and counts the hit, so concurrent
    attempts from several workers serialise on the row and none is lost.
    """
    row = conn.execute(
        "INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES (%s, now(), 1)"
        " ON CONFLICT (bucket) DO UPDATE SET"
        "   hits = CASE WHEN r.window_start <= now() - %s THEN 1 ELSE r.hits + 1 END,"
        "   window_start = CASE WHEN r.window_start <= now() - %s"
        "                  THEN now() ELSE r.window_start END"
        " RETURNING hits",
        (bucket[:300], window, window),
    ).fetchone()
    return row["hits"] <= limit


def create_password_reset(conn: psycopg.Connection, email: str) -> tuple[User, str] | None:
    """A single-use reset token for the account with this email, or None if there is none."""
    row = conn.execute(
        "SELECT " + _USER_COLUMNS + " FROM users u WHERE lower(u.email) = lower(%s)",  # noqa: S608 - constant column list
        ((email or "").strip(),),
    ).fetchone()
    if row is None:
        return None
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (%s, %s, now() + %s)",
        (token_hash(token), row["id"], RESET_LIFETIME),
    )
    return _user(row), token


def reset_password(conn: psycopg.Connection, token: str, new_hash: str) -> User:
    """Set a new password (checked and hashed by the caller, outside the transaction).

    The token, every other reset link, every old session and API token die.
    """
    row = conn.execute(
        "UPDATE password_resets SET used_at = now()"
        " WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()"
        " RETURNING user_id",
        (token_hash(token or ""),),
    ).fetchone()
    if row is None:
        raise AccountError(RESET_LINK_DEAD)
    conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (new_hash, row["user_id"]))
    # Every other link sent for this account dies with this one: an older
    # mail (say, in a mailbox someone else can read) must not reset it again.
    conn.execute(
        "UPDATE password_resets SET used_at = now() WHERE user_id = %s AND used_at IS NULL",
        (row["user_id"],),
    )
    end_all_sessions(conn, row["user_id"])
    revoke_tokens(conn, row["user_id"])
    user = get_user(conn, row["user_id"])
    assert user is not None  # the reset row references the user (ON DELETE CASCADE)
    return user


def record_vote(conn: psycopg.Connection, user_id: int, paper_id: int) -> bool:
    """Upvote a paper; True if this added a vote (the primary key makes repeats no-ops)."""
    row = conn.execute(
        "INSERT INTO votes (user_id, paper_id) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING RETURNING paper_id",
        (user_id, paper_id),
    ).fetchone()
    return row is not None


def remove_vote(conn: psycopg.Connection, user_id: int, paper_id: int) -> bool:
    """Take an upvote back; True if there was one."""
    cur = conn.execute(
        "DELETE FROM votes WHERE user_id = %s AND paper_id = %s", (user_id, paper_id)
    )
    return cur.rowcount > 0


def voted_papers(conn: psycopg.Connection, user_id: int, paper_ids: list[int]) -> set[int]:
    """Which of these papers the user has upvoted."""
    if not paper_ids:
        return set()
    rows = conn.execute(
        "SELECT paper_id FROM votes WHERE user_id = %s AND paper_id = ANY(%s)",
        (user_id, paper_ids),
    ).fetchall()
    return {r["paper_id"] for r in rows}


def create_api_token(conn: psycopg.Connection, user_id: int, name: str = "") -> str:
    """A personal API token (shown once) for `Authorization: Bearer …` requests."""
    token = "pf_" + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, name) VALUES (%s, %s, %s)",
        (token_hash(token), user_id, " ".join((name or "").split())[:80]),
    )
    return token


def api_token_user(conn: psycopg.Connection, token: str) -> User | None:
    """The owner of an API token, or None."""
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        "UPDATE api_tokens t SET last_used_at = now() FROM users u"  # noqa: S608 - constant column list
        " WHERE t.token_hash = %s AND u.id = t.user_id RETURNING " + _USER_COLUMNS,
        (token_hash(token),),
    ).fetchone()
    return _user(row) if row else None


def list_api_tokens(conn: psycopg.Connection, user_id: int) -> list[dict]:
    """A user's API tokens (names and dates; the secrets are not kept)."""
    return conn.execute(
        "SELECT substr(token_hash, 1, 12) AS id, name, created_at, last_used_at"
        " FROM api_tokens WHERE user_id = %s ORDER BY created_at",
        (user_id,),
    ).fetchall()


def revoke_api_token(conn: psycopg.Connection, user_id: int, token_id: str) -> bool:
    """Delete one of a user's API tokens by the id shown in list_api_tokens."""
    cur = conn.execute(
        "DELETE FROM api_tokens WHERE user_id = %s AND substr(token_hash, 1, 12) = %s",
        (user_id, token_id),
    )
    return cur.rowcount > 0


_SUBMISSION_COLUMNS = "id, user_id, arxiv_id, title, status, paper_id, message, created_at"


def submit_arxiv(conn: psycopg.Connection, user_id: int, value: str) -> dict:
    """Queue an arXiv id for the ingest worker; AlreadyKnown if it is known or queued."""
    arxiv_id = normalise_arxiv_id(value)
    if arxiv_id is None:
        raise AccountError("That does not look like an arXiv id (e.g. 2401.01234).")
    row = conn.execute("SELECT id FROM papers WHERE arxiv_id = %s", (arxiv_id,)).fetchone()
    if row is not None:
        raise AlreadyKnown("This paper is already here — thank you!", row["id"])
    _count_submission(conn, user_id)
    row = conn.execute(
        "INSERT INTO submissions (user_id, arxiv_id) VALUES (%s, %s)"  # noqa: S608 - constant column list
        " ON CONFLICT (arxiv_id) WHERE arxiv_id IS NOT NULL DO NOTHING"
        " RETURNING " + _SUBMISSION_COLUMNS,
        (user_id, arxiv_id),
    ).fetchone()
    if row is None:
        raise AlreadyKnown("Someone already submitted this paper; it will appear shortly.")
    return row


def record_form_submission(
    conn: psycopg.Connection,
    user_id: int,
    title: str,
    abstract: str,
    authors: list[str],
    url: str | None,
) -> dict:
    """Record a paper submitted with its metadata (the caller imports it through the catalogue)."""
    normalised = normalise_title(title)
    row = conn.execute("SELECT id FROM papers WHERE norm_title = %s", (normalised,)).fetchone()
    if row is not None:
        raise AlreadyKnown("A paper with this title is already here — thank you!", row["id"])
    _count_submission(conn, user_id)
    return conn.execute(
        "INSERT INTO submissions (user_id, title, abstract, authors, url)"  # noqa: S608
        " VALUES (%s, %s, %s, %s, %s)"
        " RETURNING " + _SUBMISSION_COLUMNS,
        (user_id, title, abstract, authors, url),
    ).fetchone()


def finish_submission(
    conn: psycopg.Connection,
    submission_id: int,
    status: str,
    paper_id: int | None,
    message: str | None = None,
) -> None:
    """Mark a submission imported (with its paper) or failed (with why)."""
    conn.execute(
        "UPDATE submissions SET status = %s, paper_id = %s, message = %s, processed_at = now()"
        " WHERE id = %s",
        (status, paper_id, message, submission_id),
    )


def pending_submissions(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """Queued arXiv submissions, oldest first, for the ingest worker to fetch."""
    return conn.execute(
        "SELECT " + _SUBMISSION_COLUMNS + " FROM submissions WHERE status = 'pending'"  # noqa: S608 - constant column list
        " AND arxiv_id IS NOT NULL ORDER BY created_at LIMIT %s",
        (limit,),
    ).fetchall()


def user_submissions(conn: psycopg.Connection, user_id: int, limit: int = 50) -> list[dict]:
    """A user's submissions, newest first; `hidden` says why one's paper is out of view
    ('review': awaiting an admin, see catalogue/moderation.py)."""
    return conn.execute(
        "SELECT " + _SUBMISSION_COLUMNS + ","  # noqa: S608 - constant column list
        " (SELECT hp.reason FROM hidden_papers hp WHERE hp.paper_id = submissions.paper_id)"
        "   AS hidden FROM submissions WHERE user_id = %s"
        " ORDER BY created_at DESC LIMIT %s",
        (user_id, limit),
    ).fetchall()
