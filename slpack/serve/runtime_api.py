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

import json
import queue
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slpack.serve.invocation import Invocation, Outcome, error_document

PREFIX = "/2018-06-01/runtime"
_INVOCATION_PATH = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
SHUTDOWN_POLL_S = 0.05  # how often a server loop checks for shutdown: bounds a worker's replacement


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
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_S,),
            name=f"runtime-api-{worker}",
            daemon=True,
        )
        self._thread.start()

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
            invocation.finish(Outcome.ERROR, self.init_error, _error_type(self.init_error), self.worker)
        else:
            document = error_document("Runtime.ExitError", f"Runtime exited with error: {reason}")
            invocation.finish(Outcome.CRASHED, document, "Runtime.ExitError", self.worker)

    def close(self) -> None:
        """Stop serving; a poll still waiting for an event is released."""
        try:
            self._pending.put_nowait(None)
        except queue.Full:
            pass
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each small reply waits ~40 ms for a delayed ACK
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silent: the worker's own output is what users read."""

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
        if match["kind"] == "response":
            invocation.finish(Outcome.RESPONSE, body, None, api.worker)
        else:
            error_type = self.headers.get(_ERROR_TYPE_HEADER) or _error_type(body)
            invocation.finish(Outcome.ERROR, body, error_type, api.worker)
        self._accepted()

    def _accepted(self) -> None:
        self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')

    def _reply(self, status: HTTPStatus, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
