"""What can go wrong with a request, as data: status, code, message, details.

A :class:`RequestError` is the caller's (4xx); :class:`ModelUnavailable` is the model's (503);
anything else is ours (500, with the request id so it can be found in the log).
"""

from __future__ import annotations

from typing import Any

MAX_DETAILS = 100  # an error body names every problem, up to this many


class RequestError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class ModelUnavailable(Exception):
    """The model cannot be loaded (missing, corrupt, hash mismatch, S3 down); str() says why."""


def detail(row: int | None, field: str | None, code: str, message: str) -> dict[str, Any]:
    return {"row": row, "field": field, "code": code, "message": message}


def error_body(
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    details = list(details or [])
    if len(details) > MAX_DETAILS:
        extra = len(details) - MAX_DETAILS
        details = [
            *details[:MAX_DETAILS],
            detail(None, None, "truncated", f"{extra} more problems not listed"),
        ]
    return {
        "error": {"code": code, "message": message, "details": details, "request_id": request_id}
    }
