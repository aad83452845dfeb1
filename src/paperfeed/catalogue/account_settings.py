"""What a signed-in user changes about their own account: password, email address
(after a click on a link sent to the new one), email verification, deletion.

Like `accounts`, every function runs inside the caller's transaction. Deleting
an account removes everything personal (sessions, API tokens, reset links,
library, folders, feedback, profile, subscriptions); what stays is documented
on `delete_account` and on the account page.
"""

from __future__ import annotations

import psycopg

from paperfeed.catalogue import accounts
from paperfeed.catalogue.accounts import AccountError, EmailTaken


def _check_current_password(conn: psycopg.Connection, user_id: int, checked_hash: str) -> str:
    """The account's address, if `checked_hash` (the hash the caller verified the
    current password against, outside the transaction) is still the account's."""
    row = conn.execute(
        "SELECT email FROM users WHERE id = %s AND password_hash = %s", (user_id, checked_hash)
    ).fetchone()
    if row is None:
        raise AccountError("Your current password is not right.")
    return row["email"]


def change_password(
    conn: psycopg.Connection, user_id: int, checked_hash: str, new_hash: str, keep_session: str
) -> int:
    """Set a new password (hashed by the caller) once the current one was checked.

    `checked_hash` is the stored hash the current password matched; if the
    password changed in between, nothing happens (AccountError). Every other
    session and every API token of the account stops working (a password
    change is what a user does when they fear someone else got in); the
    session `keep_session` (this browser's token) stays. Returns how many
    sessions and tokens were revoked.
    """
    _check_current_password(conn, user_id, checked_hash)
    conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (new_hash, user_id))
    sessions = conn.execute(
        "DELETE FROM sessions WHERE user_id = %s AND token_hash <> %s",
        (user_id, accounts.token_hash(keep_session)),
    ).rowcount
    tokens = accounts.revoke_tokens(conn, user_id)
    return sessions + tokens


def check_new_email(
    conn: psycopg.Connection, user_id: int, checked_hash: str, email: str
) -> str:
    """The normalised new address, once the password was checked and if it is free."""
    _check_current_password(conn, user_id, checked_hash)
    email = accounts.normalise_email(email)
    taken = conn.execute(
        "SELECT 1 FROM users WHERE lower(email) = lower(%s) AND id <> %s", (email, user_id)
    ).fetchone()
    if taken:
        raise EmailTaken("An account with this email already exists.")
    return email


def confirm_email(conn: psycopg.Connection, user_id: int, email: str) -> accounts.User:
    """Make `email` the account's confirmed address (a verified sign-up or a change)."""
    try:
        row = conn.execute(
            "UPDATE users SET email = %s, email_verified_at = now() WHERE id = %s RETURNING id",
            (email, user_id),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise EmailTaken("Another account took this email address in the meantime.") from None
    if row is None:
        raise AccountError("This account no longer exists.")
    user = accounts.get_user(conn, user_id)
    assert user is not None
    return user


def is_verified(conn: psycopg.Connection, user_id: int) -> bool:
    """Whether the account's current address was confirmed by a click."""
    row = conn.execute("SELECT email_verified_at FROM users WHERE id = %s", (user_id,)).fetchone()
    return bool(row and row["email_verified_at"])


def find_unverified(conn: psycopg.Connection, email: str) -> accounts.User | None:
    """The account with this address if it still waits for its confirmation click."""
    row = conn.execute(
        "SELECT id FROM users WHERE lower(email) = lower(%s) AND email_verified_at IS NULL",
        ((email or "").strip(),),
    ).fetchone()
    return accounts.get_user(conn, row["id"]) if row else None


def delete_account(conn: psycopg.Connection, user_id: int, checked_hash: str) -> None:
    """Delete the account and everything personal in it, after checking the password.

    Removed: the user row, sessions, API tokens, reset links, library (saved
    papers, tags, notes, folders), "not interested" feedback, the for-you
    profile and every email subscription made while signed in. The user's
    upvotes stop being theirs but keep counting: each is folded into the
    paper's anonymous count. What stays: the papers they submitted (without
    the submitter), and subscriptions made with the same address while
    signed out (each email has its own unsubscribe link). `checked_hash` is
    the stored hash the password was verified against (outside the transaction).
    """
    _check_current_password(conn, user_id, checked_hash)
    conn.execute(
        "UPDATE papers SET imported_upvotes = imported_upvotes + 1"
        " WHERE id IN (SELECT paper_id FROM votes WHERE user_id = %s)",
        (user_id,),
    )
    conn.execute("DELETE FROM subscriptions WHERE user_id = %s", (user_id,))
    # The rest goes by ON DELETE CASCADE (and SET NULL for submissions).
    conn.execute("DELETE FROM users WHERE id = %s", (user_id,))


def reset_link_usable(conn: psycopg.Connection, token: str) -> bool:
    """Whether a password reset token still works (unused and not expired)."""
    row = conn.execute(
        "SELECT 1 FROM password_resets WHERE token_hash = %s AND used_at IS NULL"
        " AND expires_at > now()",
        (accounts.token_hash(token or ""),),
    ).fetchone()
    return row is not None
