"""Structured JSON log lines on stdout (what CloudWatch Logs and every log router read).

One line per event, with the request id, so an error in a response can be found in the log. The
level is written as ``level`` (Lambda's JSON log format) and as ``severity`` (Cloud Logging's),
so both platforms file the line at its level.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


class Logger:
    def __init__(self, level: str = "INFO", stream: Any = None) -> None:
        self.threshold = LEVELS.get(level, 20)
        self.stream = stream
        self._once: set[str] = set()

    def log(self, level: str, message: str, **fields: Any) -> None:
        if LEVELS[level] < self.threshold:
            return
        record = {
            "level": level,
            "severity": level,
            "timestamp": round(time.time(), 3),
            "logger": "slpack",
            "message": message,
        }
        record.update({k: v for k, v in fields.items() if v is not None})
        stream = self.stream or sys.stdout
        try:
            stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or full stdout must not fail the request

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def once(self, key: str, level: str, message: str, **fields: Any) -> None:
        """Log ``message`` the first time ``key`` is seen in this container only."""
        if key not in self._once:
            self._once.add(key)
            self.log(level, message, **fields)
