"""The Lambda Runtime API of one execution environment, served on 127.0.0.1.

In Lambda every execution environment talks to its own Runtime API endpoint: the runtime
client long-polls ``GET /2018-06-01/runtime/invocation/next`` for an event, runs the handler and
posts ``/invocation/{id}/response`` or ``/invocation/{id}/error``; a failed import posts
``/init/error`` and exits. This emulator is that endpoint for one worker process running
``awslambdaric``, so the worker runs exactly the code path it runs in Lambda. Like a real
environment it holds at most one invocation at a time.

awslambdaric's native client crashes unless ``next`` carries ``Lambda-Runtime-Trace-Id`` along
with the request id, deadline and function ARN headers, so every event carries all of them.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
from http import HTTPStatus

from slpack.serve.httpd import Handler, LocalServer
from slpack.serve.invocation import MAX_PAYLOAD_BYTES, Invocation, Outcome, error_document

PREFIX = "/2018-06-01/runtime"
_INVOCATION_PATH = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


class RuntimeApi:
    """A Runtime API endpoint for one worker; feed it invocations with :meth:`submit`."""

    def __init__(self, function_arn: str, worker: str) -> None:
        self.function_arn = function_arn
        self.worker = worker
        self.init_error: bytes | None = None  # the document posted to /init/error, if any
        self.ready = threading.Event()  # set at the first poll of `next`: init has finished
        self._lock = threading.Lock()
        self._pending: queue.Queue[Invocation | None] = queue.Queue(maxsize=1)
        self._current: Invocation | None = None  # submitted and not finished
        self._exit_reason: str | None = None
        self._server = _Server(self).__enter__()

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, invocation: Invocation) -> None:
        """Queue ``invocation`` for the worker's next poll (one at a time)."""
        with self._lock:
            if self._current is not None and not self._current.finished:
                raise RuntimeError(f"worker {self.worker} is already running an invocation")
            self._current = invocation
            if self._exit_reason is None:
                self._pending.put_nowait(invocation)
                return
        self._fail(invocation, self._exit_reason)

    def worker_exited(self, reason: str) -> None:
        """The process is gone: end the invocation it held, if any; later ones fail at once."""
        with self._lock:
            self._exit_reason = reason
            invocation = self._current
        if invocation is not None:
            self._fail(invocation, reason)

    def _fail(self, invocation: Invocation, reason: str) -> None:
        # A worker that died during init answers like Lambda does: with the init error.
        if self.init_error is not None:
            invocation.finish(
                Outcome.ERROR, self.init_error, _error_type(self.init_error), self.worker
            )
        else:
            document = error_document("Runtime.ExitError", f"Runtime exited with error: {reason}")
            invocation.finish(Outcome.CRASHED, document, "Runtime.ExitError", self.worker)

    def close(self) -> None:
        """Stop serving; a poll still waiting for an event is released."""
        with contextlib.suppress(queue.Full):
            self._pending.put_nowait(None)
        self._server.__exit__()

    # --- called by the request handler ------------------------------------------------------

    def next_invocation(self) -> Invocation | None:
        self.ready.set()
        invocation = self._pending.get()
        if invocation is not None:
            invocation.deliver()
        return invocation

    def lookup(self, request_id: str) -> Invocation | None:
        with self._lock:
            current = self._current
        return current if current is not None and current.request_id == request_id else None


def _error_type(document: bytes) -> str | None:
    try:
        return str(json.loads(document).get("errorType") or "") or None
    except (ValueError, AttributeError):
        return None


class _Server(LocalServer):
    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(Handler):
    server: _Server

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(HTTPStatus.NOT_FOUND, error_document("NotFound", self.path))
        invocation = self.server.api.next_invocation()
        if invocation is None:  # shutting down
            return self._reply(HTTPStatus.GONE, error_document("ShuttingDown", "no more events"))
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.server.api.function_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        self._reply(HTTPStatus.OK, invocation.payload, headers)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        api = self.server.api
        if self.path == f"{PREFIX}/init/error":
            api.init_error = body
            return self._accepted()
        match = _INVOCATION_PATH.match(self.path)
        if match is None:
            return self._reply(HTTPStatus.NOT_FOUND, error_document("NotFound", self.path))
        invocation = api.lookup(match["id"])
        if invocation is None:
            return self._reply(
                HTTPStatus.BAD_REQUEST, error_document("InvalidRequestID", "Invalid request ID")
            )
        if match["kind"] == "response" and len(body) > MAX_PAYLOAD_BYTES:
            # Lambda drops the answer and reports this error; the environment carries on.
            message = (
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload "
                f"size ({MAX_PAYLOAD_BYTES} bytes)."
            )
            document = error_document("Function.ResponseSizeTooLarge", message)
            invocation.finish(Outcome.ERROR, document, "Function.ResponseSizeTooLarge", api.worker)
        elif match["kind"] == "response":
            invocation.finish(Outcome.RESPONSE, body, None, api.worker)
        else:
            error_type = self.headers.get(_ERROR_TYPE_HEADER) or _error_type(body)
            invocation.finish(Outcome.ERROR, body, error_type, api.worker)
        self._accepted()

    def _accepted(self) -> None:
        self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')

    def _reply(
        self, status: HTTPStatus, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.reply(status, (("Content-Type", "application/json"), *(headers or {}).items()), body)
