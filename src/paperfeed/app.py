"""The one paperfeed object: settings plus the resources built from them.

The CLI, the web app, the scheduler and the tests all go through a
`Paperfeed`: it opens the database on first use (starting the embedded
server if no URL is configured) and closes what it opened.
"""

from __future__ import annotations

import secrets
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from paperfeed.config import ConfigError, Settings
from paperfeed.db import Database, open_database

if TYPE_CHECKING:  # embed imports numpy and the model stack; load it only when used
    from paperfeed.index.embed import Embedder


class Paperfeed:
    """Settings and the shared resources of one paperfeed process."""

    def __init__(self, settings: Settings | None = None, *, database: Database | None = None):
        self.settings = settings or Settings.from_env()
        self._database = database
        self._opening = threading.Lock()

    @property
    def db(self) -> Database:
        """The database, opened (and migrated, unless disabled) on first use."""
        if self._database is None:
            # The scheduler's job threads may all ask at once; a second pool
            # would be opened and then dropped with its connections.
            with self._opening:
                if self._database is None:
                    self._database = open_database(self.settings)
        return self._database

    @property
    def home(self) -> Path:
        return Path(self.settings.home)

    @cached_property
    def secret_key(self) -> str:
        """The signing key: configured, or generated once and kept in the data directory."""
        if self.settings.secret_key:
            return self.settings.secret_key
        if not self.settings.uses_embedded_database:
            # Several instances share an external database; each would generate a
            # key of its own and refuse the forms and sessions the others signed.
            raise ConfigError(
                "PAPERFEED_SECRET_KEY: required with an external database (every instance"
                " must sign with the same key); generate one with"
                ' python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            # Written with O_EXCL so that two workers starting together agree on one key.
            try:
                fd = path.open("x")
            except FileExistsError:
                pass
            else:
                with fd:
                    fd.write(secrets.token_urlsafe(48))
                path.chmod(0o600)
        return path.read_text().strip()

    @property
    def model_dir(self) -> Path:
        """Where converted embedding models are cached (shared by every process of this home)."""
        return Path(self.settings.model_dir) if self.settings.model_dir else self.home / "models"

    def embedder(self, name: str | None = None) -> Embedder:
        """The configured (or named) embedding model, loaded once per process."""
        from paperfeed.index.embed import get_embedder

        return get_embedder(name or self.settings.embedding_model, self.model_dir)

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None

    def __enter__(self) -> Paperfeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
