"""What can go wrong with a request, as data: status, code, message, details.

A :class:`RequestError` is the caller's (4xx); :class:`ModelUnavailable` is the model's (503);
anything else is ours (500, with the request id so it can be found in the log). The error body
itself is the contract's (:func:`slpack_handler.contract.error_body`).
"""

from __future__ import annotations

from typing import Any

from slpack_handler.contract import detail, error_body

__all__ = ["ModelUnavailable", "RequestError", "detail", "error_body", "first_line"]


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


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one bounded line for a one-sentence message: its first line, or its type's
    name when it says nothing (``str(exc)`` may be empty or span a traceback-like text)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
