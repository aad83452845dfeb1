"""Every setting paperfeed understands, in one table.

Settings come from `PAPERFEED_*` environment variables (and CLI flags that
override them). This is the only module that reads the environment: the app
factory and the CLI build one `Settings` and pass it down. Each option has a
default, a type, a one-line description and a secret flag; secrets are masked
in `paperfeed config`. A test checks that every option is documented in the README.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs


class ConfigError(ValueError):
    """A setting has a value paperfeed cannot use."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _default_home() -> str:
    return platformdirs.user_data_dir("paperfeed", appauthor=False)


@dataclass(frozen=True)
class Option:
    """One setting: its environment name, how to parse it, and what it is for."""

    env: str
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False


def _opt(env: str, parse: Callable[[str], Any], doc: str, secret: bool = False) -> Any:
    return field(metadata={"option": Option(env, parse, doc, secret)})


@dataclass(frozen=True)
class Settings:
    """paperfeed's configuration; build it with `Settings.from_env()`."""

    home: Path = _opt(
        "PAPERFEED_HOME", Path, "Data directory: embedded database, model caches, logs."
    )
    database_url: str = _opt(
        "PAPERFEED_DATABASE_URL",
        str,
        "External PostgreSQL (>= 15, with pgvector). Empty: start the embedded one in HOME.",
        secret=True,
    )
    read_database_urls: str = _opt(
        "PAPERFEED_READ_DATABASE_URLS",
        str,
        "Comma-separated streaming-replication standbys of DATABASE_URL that serve page,"
        " search, feed and API reads (empty: every read goes to the primary).",
        secret=True,
    )
    read_max_lag: float = _opt(
        "PAPERFEED_READ_MAX_LAG",
        float,
        "Seconds a read replica may lag the primary before reads skip it.",
    )
    read_pin_seconds: float = _opt(
        "PAPERFEED_READ_PIN_SECONDS",
        float,
        "After a write, that browser reads from the primary until a replica has the write,"
        " for at most this many seconds.",
    )
    auto_migrate: bool = _opt(
        "PAPERFEED_AUTO_MIGRATE",
        _bool,
        "Apply pending migrations at start-up; when false, refuse to run on an old schema.",
    )
    pool_size: int = _opt(
        "PAPERFEED_POOL_SIZE",
        int,
        "Database connections per process (web workers each have one pool).",
    )
    base_url: str = _opt(
        "PAPERFEED_BASE_URL", str, "Public URL of this instance, used in emails and feeds."
    )
    secret_key: str = _opt(
        "PAPERFEED_SECRET_KEY",
        str,
        "Key that signs sessions, CSRF and email tokens. Empty: generated once into HOME.",
        secret=True,
    )
    embedding_model: str = _opt(
        "PAPERFEED_EMBEDDING_MODEL", str, "Sentence-embedding model used for semantic search."
    )
    model_dir: str = _opt(
        "PAPERFEED_MODEL_DIR",
        str,
        "Where converted models (the ONNX int8 MiniLM) are cached. Empty: HOME/models.",
    )
    smtp_host: str = _opt("PAPERFEED_SMTP_HOST", str, "SMTP server for digests and account mail.")
    smtp_port: int = _opt("PAPERFEED_SMTP_PORT", int, "SMTP port.")
    smtp_security: str = _opt(
        "PAPERFEED_SMTP_SECURITY", str, "SMTP transport security: none, starttls or ssl."
    )
    smtp_user: str = _opt("PAPERFEED_SMTP_USER", str, "SMTP user name (empty: no login).")
    smtp_password: str = _opt("PAPERFEED_SMTP_PASSWORD", str, "SMTP password.", secret=True)
    mail_from: str = _opt("PAPERFEED_MAIL_FROM", str, "From address of every email sent.")
    arxiv_sets: str = _opt(
        "PAPERFEED_ARXIV_SETS",
        str,
        "Comma-separated arXiv OAI-PMH sets the scheduler harvests (empty: none).",
    )
    hf_daily: bool = _opt(
        "PAPERFEED_HF_DAILY", _bool, "Whether the scheduler fetches the Hugging Face daily papers."
    )
    scheduler: bool = _opt(
        "PAPERFEED_SCHEDULER", _bool, "Run the ingest/digest scheduler inside `paperfeed serve`."
    )
    ingest_hours: str = _opt(
        "PAPERFEED_INGEST_HOURS",
        str,
        "Comma-separated UTC hours at which the scheduler ingests the configured sources.",
    )
    digest_papers: int = _opt("PAPERFEED_DIGEST_PAPERS", int, "Most papers in one email digest.")
    digest_senders: int = _opt(
        "PAPERFEED_DIGEST_SENDERS",
        int,
        "Parallel SMTP connections a digest run sends over (each with its own database session).",
    )
    digest_send_empty: bool = _opt(
        "PAPERFEED_DIGEST_SEND_EMPTY",
        _bool,
        "Send a digest saying so when a period has nothing new (default: send nothing).",
    )
    comment_rate: int = _opt(
        "PAPERFEED_COMMENT_RATE",
        int,
        "Comments (and edits) one account may post per 10 minutes; past that, 429.",
    )
    comment_review_first: bool = _opt(
        "PAPERFEED_COMMENT_REVIEW_FIRST",
        _bool,
        "Hold an account's first comment for an admin's approval before anyone else sees it.",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every option from `env` (default: os.environ); keyword overrides win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = dict(DEFAULTS)
        for f in fields(cls):
            option: Option = f.metadata["option"]
            raw = env.get(option.env)
            if raw is None:
                continue
            try:
                values[f.name] = option.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{option.env}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["home"] = Path(values["home"]).expanduser()
        if values["smtp_security"] not in {"none", "starttls", "ssl"}:
            raise ConfigError("PAPERFEED_SMTP_SECURITY: expected none, starttls or ssl")
        return cls(**values)

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, value, description) for every option, secrets masked."""
        rows = []
        for f in fields(self):
            option: Option = f.metadata["option"]
            value = str(getattr(self, f.name))
            if option.secret and value:
                value = "********"
            rows.append((option.env, value, option.doc))
        return rows

    @property
    def read_urls(self) -> list[str]:
        """The read replicas' URLs, in the configured order."""
        return [u.strip() for u in self.read_database_urls.split(",") if u.strip()]

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


def options() -> list[Option]:
    """Every option, for documentation checks."""
    return [f.metadata["option"] for f in fields(Settings)]


DEFAULTS: dict[str, Any] = {
    "home": _default_home(),
    "database_url": "",
    "read_database_urls": "",
    "read_max_lag": 10.0,
    "read_pin_seconds": 60.0,
    "auto_migrate": True,
    "pool_size": 10,
    "base_url": "http://127.0.0.1:8000",
    "secret_key": "",
    # ONNX int8 MiniLM: within noise of the full model on the dev set (hybrid nDCG@10
    # 0.857 vs 0.867), half the CPU per abstract, 2 ms queries (docs/search.md).
    "embedding_model": "minilm-l6-v2-onnx-int8-fused",
    "model_dir": "",
    "smtp_host": "127.0.0.1",
    "smtp_port": 25,
    "smtp_security": "none",
    "smtp_user": "",
    "smtp_password": "",
    "mail_from": "paperfeed <paperfeed@localhost>",
    "arxiv_sets": "",
    "hf_daily": False,
    "scheduler": True,
    "ingest_hours": "1,13",
    "digest_papers": 10,
    "digest_send_empty": False,
    "digest_senders": 5,
    "comment_rate": 10,
    "comment_review_first": False,
}
