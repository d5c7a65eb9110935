"""An HTTP server in front of a worker pool, with Lambda Function URL semantics.

Each HTTP request becomes a Function URL event (payload format 2.0), runs on the next free
worker, and the function's answer is mapped back as a Function URL maps it: a response with
``statusCode`` gives that status, headers, cookies and (base64-decoded) body; any other JSON
value is sent as-is with status 200 and ``application/json``. Failures of the function itself
get the statuses a caller would see in front of Lambda: 502 when it raised or died, 504 when it
timed out, 429 when every worker is busy and the queue is full, 413 past Lambda's 6 MB payload
limit. Those errors use slpack's error shape, ``{"error": {"code", "message", "request_id"}}``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, Any

from slpack.serve.events import HttpRequest, function_url_event
from slpack.serve.httpd import Handler, LocalServer
from slpack.serve.invocation import MAX_PAYLOAD_BYTES, Outcome, Result, new_request_id
from slpack.serve.workers import LogSink, WorkerPool

ACCESS_LOG = "http"  # the log source of the one line per request
_HOP_BY_HOP = {"connection", "content-length", "keep-alive", "transfer-encoding"}
_FAILURES = {
    Outcome.ERROR: (HTTPStatus.BAD_GATEWAY, "function_error"),
    Outcome.CRASHED: (HTTPStatus.BAD_GATEWAY, "function_crashed"),
    Outcome.TIMED_OUT: (HTTPStatus.GATEWAY_TIMEOUT, "function_timeout"),
    Outcome.THROTTLED: (HTTPStatus.TOO_MANY_REQUESTS, "too_many_requests"),
}


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def error_reply(status: HTTPStatus, code: str, message: str, request_id: str) -> HttpReply:
    """A reply in slpack's error shape."""
    document = {
        "error": {"code": code, "message": message, "details": [], "request_id": request_id}
    }
    return HttpReply(status, (("content-type", "application/json"),), json.dumps(document).encode())


def function_url_reply(result: Result) -> HttpReply:
    """The HTTP reply a Function URL makes of an invocation's result."""
    if result.outcome is not Outcome.RESPONSE:
        status, code = _FAILURES[result.outcome]
        return error_reply(status, code, result.error_message(), result.request_id)
    try:
        return _structured_reply(json.loads(result.body), result.body)
    except ValueError as exc:  # includes json.JSONDecodeError and bad base64
        message = f"the function returned an invalid response: {exc}"
        return error_reply(
            HTTPStatus.BAD_GATEWAY, "function_invalid_response", message, result.request_id
        )


def _structured_reply(value: Any, raw: bytes) -> HttpReply:
    """Map a response object; one without ``statusCode`` is the body itself (inferred format)."""
    if not (isinstance(value, dict) and "statusCode" in value):
        return HttpReply(200, (("content-type", "application/json"),), raw)
    status = value["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"statusCode must be an integer HTTP status, not {status!r}")
    headers_in = value.get("headers") or {}
    if not isinstance(headers_in, dict):
        raise ValueError("headers must be an object")
    headers = [
        (str(k).lower(), str(v)) for k, v in headers_in.items() if str(k).lower() not in _HOP_BY_HOP
    ]
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    headers += [("set-cookie", str(cookie)) for cookie in value.get("cookies") or ()]
    body = value.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise ValueError("body must be a string")
    elif value.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"body is not valid base64 ({exc})") from None
    else:
        payload = body.encode("utf-8")
    return HttpReply(status, tuple(headers), payload)


class BodyTooLarge(Exception):
    """The request body exceeds :data:`MAX_PAYLOAD_BYTES`."""


def _too_large(request_id: str) -> HttpReply:
    message = f"the request exceeds Lambda's {MAX_PAYLOAD_BYTES} byte payload limit"
    return error_reply(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large", message, request_id
    )


def read_chunked(stream: IO[bytes] | io.BufferedIOBase, limit: int) -> bytes:
    """Read a ``Transfer-Encoding: chunked`` body (RFC 9112 section 7.1), at most ``limit``
    bytes."""
    body = bytearray()
    while True:
        size = int(stream.readline(1024).split(b";", 1)[0].strip(), 16)  # ValueError if garbled
        if size == 0:
            while stream.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields: nothing here uses them
            return bytes(body)
        if len(body) + size > limit:
            raise BodyTooLarge
        body += stream.read(size)
        stream.readline(1024)  # the CRLF closing the chunk


# A connection that sends nothing for this long (between requests, or in the middle of one) is
# closed: a slow or idle client must not hold one of the server's threads forever.
READ_TIMEOUT_S = 30.0


class FunctionUrlServer(LocalServer):
    """Serves a :class:`WorkerPool` over HTTP; use as a context manager to run it in a thread."""

    request_queue_size = 128  # the listen backlog: bursts of clients queue in the pool, not here

    def __init__(
        self,
        pool: WorkerPool,
        host: str = "127.0.0.1",
        port: int = 0,
        log: LogSink | None = None,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.pool = pool
        self.log = log
        # Every read's socket timeout is a handler class attribute: a handler class per server.
        handler = type("FunctionUrlHandler", (_Handler,), {"timeout": read_timeout_s})
        super().__init__((host, port), handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(Handler):
    server_version = "slpack-serve"
    server: FunctionUrlServer

    def _proxy(self) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        try:
            request = self._request()
        except BodyTooLarge:
            self.close_connection = True  # the unread body makes the connection unusable
            reply = _too_large(request_id)
        except ValueError as exc:  # a garbled Content-Length or chunk size
            self.close_connection = True
            message = f"the request body could not be read: {exc}"
            reply = error_reply(HTTPStatus.BAD_REQUEST, "invalid_request", message, request_id)
        else:
            event = json.dumps(
                function_url_event(request, request_id, self.server.pool.config.region)
            )
            if len(event) > MAX_PAYLOAD_BYTES:  # the body fit, but not once base64-encoded
                reply = _too_large(request_id)
            else:
                reply = function_url_reply(
                    self.server.pool.invoke(event.encode(), request_id=request_id)
                )
        self.reply(reply.status, (*reply.headers, ("x-amzn-requestid", request_id)), reply.body)
        if self.server.log is not None:
            elapsed = (time.perf_counter() - started) * 1000
            self.server.log(
                ACCESS_LOG, f"{self.command} {self.path} -> {reply.status} ({elapsed:.1f} ms)"
            )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _proxy

    def _request(self) -> HttpRequest:
        path, _, query = self.path.partition("?")
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = read_chunked(self.rfile, MAX_PAYLOAD_BYTES)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                raise BodyTooLarge
            body = self.rfile.read(length)
        return HttpRequest(
            method=self.command,
            path=path,
            query=query,
            headers=tuple(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
