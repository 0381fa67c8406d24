"""Logs as one JSON object a line, with nothing a resident wrote and nobody's id.

    {"time": "2025-12-01T03:00:00.123Z", "level": "ERROR", "logger": "bot.line",
     "message": "line: reply refused with HTTP 500 (attempt 1 of 3)", "pid": 4242}

What the bot's own code logs never holds message text, platform ids, tokens or
secrets (tests/service/test_security.py holds it to that).  As a second line of defence
the formatter blanks anything shaped like a LINE id, a Telegram bot token or a
bearer token, and shows an exception by its type only: a traceback can quote
values.  `LOG_FORMAT=text` gives the plain human format instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime

# LINE user/group/room ids, Telegram bot tokens, bearer and "token=" values.
_SHAPES = [
    (re.compile(r"\b[UCR][0-9a-f]{32}\b"), "[id]"),
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b"), "[token]"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [secret]"),
    (re.compile(r"(?i)\b(token|secret|signature)=([^\s&]+)"), r"\1=[secret]"),
]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def scrub(text: str) -> str:
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "pid": record.process,
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


class ScrubbingFormatter(logging.Formatter):
    """The text format, with the same blanking (and tracebacks left out, as in JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        if saved[0] and saved[0][0] is not None:
            line += f" [{saved[0][0].__name__}]"
        return scrub(line)


def setup(fmt: str | None = None, level: int = logging.INFO) -> None:
    """Root logging for the server and CLI tools: JSON unless LOG_FORMAT=text."""
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "json").lower()
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter(TEXT_FORMAT) if fmt == "text" else JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
