"""A bound on concurrent argon2 work, so a sign-in flood cannot stall other pages.

Every password hash or check a request makes (sign-in, sign-up, password
change and reset, the current-password checks of the account page) goes
through the app's one `HashGate`, and always *outside* a database
transaction: hashing takes about a second under load, and a pool connection
held for that second was what starved every other page (issue 16, item 15).

The gate has `PAPERFEED_HASH_SLOTS` slots (hashes running at once) and a
bounded queue of `PAPERFEED_HASH_QUEUE` requests waiting for a slot, each for
at most `WAIT_SECONDS`. A request beyond the queue, or one that waited too
long, is answered 503 with `Retry-After` at once. Waiting requests hold one
of the server's worker threads, so slots + queue stay well below the thread
pool (40 threads): pages that do not hash always find a thread and a
connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import Request

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.web.errors import ServiceUnavailable

T = TypeVar("T")

# How long a request waits for a free slot before it is told to come back.
WAIT_SECONDS = 10.0
BUSY_MESSAGE = "Too many sign-ins at once. Please try again in a few seconds."


class HashGate:
    """At most `slots` hashes at once; at most `queue` more requests waiting for one."""

    def __init__(self, slots: int, queue: int, wait_seconds: float = WAIT_SECONDS) -> None:
        self.slots = slots
        self.queue = queue
        self.wait_seconds = wait_seconds
        self._free = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self._admitted = 0  # hashing now plus waiting for a slot

    @property
    def waiting(self) -> int:
        """Requests admitted but not yet hashing or done (for tests and the admin view)."""
        with self._lock:
            return self._admitted

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one hashing slot, or raise ServiceUnavailable (503 + Retry-After)."""
        busy = ServiceUnavailable(BUSY_MESSAGE, headers={"Retry-After": "5"})
        with self._lock:
            if self._admitted >= self.slots + self.queue:
                raise busy
            self._admitted += 1
        try:
            if not self._free.acquire(timeout=self.wait_seconds):
                raise busy
            try:
                yield
            finally:
                self._free.release()
        finally:
            with self._lock:
                self._admitted -= 1

    @contextmanager
    def held(self, count: int | None = None) -> Iterator[None]:
        """Take `count` slots (default: all) away from requests, e.g. to show what still answers."""
        taken = 0
        try:
            for _ in range(self.slots if count is None else count):
                self._free.acquire()
                taken += 1
            yield
        finally:
            for _ in range(taken):
                self._free.release()

    def run(self, work: Callable[[], T]) -> T:
        """Run CPU-heavy password work in a slot."""
        with self.slot():
            return work()

    def hash(self, password: str) -> str:
        """The argon2id hash of a new password."""
        return self.run(lambda: accounts.hash_password(password))

    def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches the stored hash (the dummy hash for unknown accounts)."""
        return self.run(lambda: accounts.verify_password(stored, password))


def gate(request: Request) -> HashGate:
    """The app's gate (created by `create_app` from the settings)."""
    return request.app.state.hash_gate


def check_current(request: Request, pf: Paperfeed, user_id: int, password: str) -> str:
    """The stored hash the user's current password matches, or AccountError.

    Reads the hash in its own short transaction and verifies it after, in a
    slot; the caller's write then checks the hash is still the stored one.
    """
    with pf.db.transaction() as conn:
        stored = accounts.stored_hash(conn, user_id)
    if stored is None or not gate(request).verify(stored, password):
        raise accounts.AccountError("Your current password is not right.")
    return stored
