"""One invocation's life: queued, delivered to a worker, finished exactly once.

Several parties can end an invocation and they race: the worker posting its response or error,
the worker process dying, the deadline passing, the pool shutting down. An :class:`Invocation`
makes the first of them win and the rest no-ops, so a caller always gets exactly one
:class:`Result` and never waits past a deadline it was given.

The synthetic error documents (crash, timeout, throttle) use the shapes Lambda itself returns
(``errorType`` / ``errorMessage``), so a caller handles them like any function error.
"""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's limit on a synchronous event and on its response


class Outcome(enum.Enum):
    """How an invocation ended."""

    RESPONSE = "response"  # the function returned a value
    ERROR = "error"  # the function raised, or its initialisation failed
    CRASHED = "crashed"  # the worker process exited before answering
    TIMED_OUT = "timed_out"  # no answer before the deadline; the worker was killed
    THROTTLED = "throttled"  # turned away: every worker busy and the queue full


@dataclass(frozen=True)
class Result:
    """What the caller of an invocation gets back."""

    request_id: str
    outcome: Outcome
    body: bytes  # the function's response, or an error document {"errorType", "errorMessage"}
    error_type: str | None = None
    worker: str | None = None  # the worker that ran it, e.g. "w3"
    duration_ms: float = 0.0  # from delivery to the worker until the end

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.RESPONSE

    def error_message(self) -> str:
        """``errorType: errorMessage`` of an error result, for one-line reports."""
        return describe_error(self.body)


def describe_error(document: bytes) -> str:
    """``errorType: errorMessage`` of a Lambda error document (the raw text if it is not one)."""
    try:
        doc = json.loads(document)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return document.decode("utf-8", "replace")
    kind = str(doc.get("errorType") or "")
    message = str(doc.get("errorMessage") or "")
    return f"{kind}: {message}" if kind else message


def error_document(error_type: str, message: str) -> bytes:
    """An error body in Lambda's own shape."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_trace_id() -> str:
    """An X-Ray trace header value (Root=1-<epoch hex>-<96 random bits>), as Lambda sends it."""
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0"


@dataclass
class Invocation:
    """An event on its way through one worker; thread-safe, finished exactly once."""

    payload: bytes
    timeout_s: float
    request_id: str = field(default_factory=new_request_id)
    trace_id: str = field(default_factory=new_trace_id)
    client_context: str | None = None
    cognito_identity: str | None = None
    deadline_ms: int = 0  # epoch milliseconds, fixed when the worker receives the event
    _delivered_at: float | None = None
    _result: Result | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def deliver(self) -> None:
        """Mark the event handed to the worker: the function's timeout starts now."""
        with self._cond:
            self._delivered_at = time.monotonic()
            self.deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
            self._cond.notify_all()

    def finish(
        self,
        outcome: Outcome,
        body: bytes,
        error_type: str | None = None,
        worker: str | None = None,
    ) -> bool:
        """End the invocation unless something else already did; True if this call ended it."""
        with self._cond:
            if self._result is not None:
                return False
            started = self._delivered_at
            elapsed = (time.monotonic() - started) * 1000 if started is not None else 0.0
            self._result = Result(self.request_id, outcome, body, error_type, worker, elapsed)
            self._cond.notify_all()
            return True

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._result is not None

    def wait_delivered(self, timeout_s: float) -> bool:
        """Wait until the worker took the event (or the invocation ended); False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._delivered_at is not None or self._result is not None, timeout_s
            )

    def wait_finished(self) -> Result | None:
        """Wait until the invocation ends or its deadline passes; None if the deadline passed."""
        with self._cond:
            assert self._delivered_at is not None or self._result is not None
            if self._delivered_at is not None:
                deadline = self._delivered_at + self.timeout_s
                self._cond.wait_for(
                    lambda: self._result is not None, max(0.0, deadline - time.monotonic())
                )
            return self._result

    @property
    def result(self) -> Result:
        with self._cond:
            if self._result is None:
                raise RuntimeError(f"invocation {self.request_id} has not finished")
            return self._result
