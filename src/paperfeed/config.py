"""Every setting paperfeed understands, in one table.

Settings come from `PAPERFEED_*` environment variables (and CLI flags that
override them). This is the only module that reads the environment: the app
factory and the CLI build one `Settings` and pass it down. Each option has a
default, a type, a one-line description and a secret flag; secrets are masked
in `paperfeed config`. A test checks that every option is documented in the README.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

log = logging.getLogger(__name__)

# The embedding models index/embed.py knows (a test keeps the two lists equal).
KNOWN_MODELS = ("minilm-l6-v2", "minilm-l6-v2-onnx-int8", "minilm-l6-v2-onnx-int8-fused")
# Environment names that start with PAPERFEED_ but are not settings.
_NOT_SETTINGS = ("PAPERFEED_TEST_",)


class ConfigError(ValueError):
    """A setting has a value paperfeed cannot use."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """An integer parser that refuses values outside low..high."""

    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"expected {low}..{high}, got {number}")
        return number

    return parse


def _seconds(value: str) -> float:
    """A positive number of seconds (fractions allowed)."""
    number = float(value)
    if not 0 < number <= 3600:
        raise ValueError(f"expected seconds in (0, 3600], got {value!r}")
    return number


def _one_of(*choices: str) -> Callable[[str], str]:
    """A parser that accepts only `choices` (any case, stored in lower case)."""

    def parse(value: str) -> str:
        lowered = value.strip().lower()
        if lowered not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return lowered

    return parse


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s)://host[/path] URL, got {value!r}")
    return value.strip().rstrip("/")


def _database_url(value: str) -> str:
    text = value.strip()
    if text and not (text.startswith(("postgresql://", "postgres://")) or "=" in text):
        # Never echo it: a mistyped URL still holds the password.
        raise ValueError("expected postgresql://user:password@host:port/database (not shown)")
    return text


def _model(value: str) -> str:
    if value not in KNOWN_MODELS:
        raise ValueError(f"expected one of {', '.join(KNOWN_MODELS)}, got {value!r}")
    return value


def _hours(value: str) -> str:
    for part in value.split(","):
        if part.strip() and not (part.strip().isdigit() and 0 <= int(part) <= 23):
            raise ValueError(f"expected comma-separated hours 0..23, got {value!r}")
    return value


def _root_path(value: str) -> str:
    text = value.strip()
    if text and (not text.startswith("/") or any(c in text for c in "?#\\ ") or "//" in text):
        raise ValueError(f"expected a path like /papers, got {value!r}")
    return text


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
        _database_url,
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
        _int_in(1, 1000),
        "Database connections per process (web workers each have one pool).",
    )
    max_requests: int = _opt(
        "PAPERFEED_MAX_REQUESTS",
        _int_in(1, 100_000),
        "Requests in flight per web worker; beyond it, 503 with Retry-After (health checks pass).",
    )
    hash_slots: int = _opt(
        "PAPERFEED_HASH_SLOTS",
        _int_in(1, 64),
        "Password hashes (argon2, ~0.1-1 s of CPU each) one web worker computes at once.",
    )
    hash_queue: int = _opt(
        "PAPERFEED_HASH_QUEUE",
        _int_in(0, 32),
        "Sign-ins (and other password checks) that may wait for a hashing slot, up to 10 s;"
        " beyond it, 503 with Retry-After at once.",
    )
    web_import_mb: int = _opt(
        "PAPERFEED_WEB_IMPORT_MB",
        _int_in(1, 20),
        "Largest BibTeX file (MB) the library's web import accepts; larger uploads get 413"
        " before any parsing.",
    )
    import_seconds: float = _opt(
        "PAPERFEED_IMPORT_SECONDS",
        _seconds,
        "Time budget for parsing one web BibTeX upload; past it the import is refused and"
        " nothing is saved.",
    )
    import_parses: int = _opt(
        "PAPERFEED_IMPORT_PARSES",
        _int_in(1, 16),
        "Web BibTeX uploads parsed at once per web worker; more wait (within the time budget).",
    )
    base_url: str = _opt(
        "PAPERFEED_BASE_URL", _http_url, "Public URL of this instance, used in emails and feeds."
    )
    secret_key: str = _opt(
        "PAPERFEED_SECRET_KEY",
        str,
        "Key that signs sessions, CSRF and email tokens. Empty: generated once into HOME.",
        secret=True,
    )
    embedding_model: str = _opt(
        "PAPERFEED_EMBEDDING_MODEL", _model, "Sentence-embedding model used for semantic search."
    )
    model_dir: str = _opt(
        "PAPERFEED_MODEL_DIR",
        str,
        "Where converted models (the ONNX int8 MiniLM) are cached. Empty: HOME/models.",
    )
    smtp_host: str = _opt("PAPERFEED_SMTP_HOST", str, "SMTP server for digests and account mail.")
    smtp_port: int = _opt("PAPERFEED_SMTP_PORT", _int_in(1, 65535), "SMTP port.")
    smtp_security: str = _opt(
        "PAPERFEED_SMTP_SECURITY",
        _one_of("none", "starttls", "ssl"),
        "SMTP transport security: none, starttls or ssl.",
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
        _hours,
        "Comma-separated UTC hours at which the scheduler ingests the configured sources.",
    )
    digest_papers: int = _opt(
        "PAPERFEED_DIGEST_PAPERS", _int_in(1, 100), "Most papers in one email digest."
    )
    digest_senders: int = _opt(
        "PAPERFEED_DIGEST_SENDERS",
        _int_in(1, 100),
        "Parallel SMTP connections a digest run sends over (each with its own database session).",
    )
    log_level: str = _opt(
        "PAPERFEED_LOG_LEVEL",
        lambda v: _one_of("debug", "info", "warning", "error")(v).upper(),
        "Log level of serve and worker: DEBUG, INFO, WARNING or ERROR.",
    )
    log_format: str = _opt(
        "PAPERFEED_LOG_FORMAT", _one_of("text", "json"), "Log lines as text or as JSON objects."
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
    review_new_submissions: int = _opt(
        "PAPERFEED_REVIEW_NEW_SUBMISSIONS",
        _int_in(0, 3650),
        "Hold papers submitted by accounts younger than this many days out of view until an"
        " admin approves them (0: publish at once).",
    )
    verify_email: bool = _opt(
        "PAPERFEED_VERIFY_EMAIL",
        _bool,
        "New accounts sign in only after clicking the link emailed to their address.",
    )

    trusted_proxies: str = _opt(
        "PAPERFEED_TRUSTED_PROXIES",
        str,
        "Comma-separated addresses/networks of reverse proxies whose X-Forwarded-For is"
        " believed (per-IP limits then count the real client). Empty: trust no proxy.",
    )
    root_path: str = _opt(
        "PAPERFEED_ROOT_PATH",
        _root_path,
        "Public sub-path the site is served under behind a proxy (e.g. /papers)."
        " Empty: the path of PAPERFEED_BASE_URL; '/' for none.",
    )
    metrics: bool = _opt(
        "PAPERFEED_METRICS",
        _bool,
        "Serve Prometheus metrics at /metrics (off: no such page). See docs/operations.md.",
    )
    metrics_token: str = _opt(
        "PAPERFEED_METRICS_TOKEN",
        str,
        "When set, /metrics answers only `Authorization: Bearer <token>` (else 401).",
        secret=True,
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
        warn_unknown(env)
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
    def public_root(self) -> str:
        """The sub-path pages are served under ('' at the top of the host), without the
        trailing slash: PAPERFEED_ROOT_PATH, else the path of PAPERFEED_BASE_URL."""
        path = self.root_path or urlsplit(self.base_url).path
        return path.strip().rstrip("/")

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


def warn_unknown(env: Mapping[str, str]) -> list[str]:
    """Log a warning for each PAPERFEED_* name that is no setting (a typo is silent otherwise)."""
    known = [option.env for option in options()]
    unknown = [
        name
        for name in env
        if name.startswith("PAPERFEED_")
        and name not in known
        and not name.startswith(_NOT_SETTINGS)
    ]
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        log.warning("%s is not a paperfeed setting and is ignored%s", name, hint)
    return unknown


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
    "max_requests": 64,
    "hash_slots": 2,
    "hash_queue": 8,
    "web_import_mb": 2,
    "import_seconds": 20.0,
    "import_parses": 2,
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
    "review_new_submissions": 0,
    "log_level": "INFO",
    "trusted_proxies": "",
    "log_format": "text",
    "verify_email": False,
    "root_path": "",
    "metrics": False,
    "metrics_token": "",
}
