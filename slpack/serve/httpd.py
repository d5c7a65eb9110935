"""The HTTP plumbing shared by the Runtime API emulator and the Function URL front.

Both are stdlib threading servers on a loopback port, with keep-alive (HTTP/1.1), Nagle's
algorithm off (a small reply would otherwise wait ~40 ms for a delayed ACK), no access log of
their own, and no traceback when a peer goes away mid-reply: a client that hangs up, or a worker
process killed while it waited for its next event, is ordinary here.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHUTDOWN_POLL_S = 0.05  # how often a serving loop checks for shutdown: bounds how long stop() takes


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server that runs in a background thread while used as a context manager."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Any:
        self._thread = threading.Thread(
            target=self.serve_forever,
            args=(SHUTDOWN_POLL_S,),
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the servers report what matters through their own log sinks."""

    def reply(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
        """Send a complete response with its Content-Length (the body is left out for HEAD)."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
