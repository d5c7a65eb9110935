"""The edge adapter: the same handler on a device or in a container, without a function platform.

Two ways in, both through the one core (``App.handle_http``):

* JSON lines: one request body per line on stdin, one response body per line on stdout
  (``python edge.zip < requests.jsonl``); logs (and metrics, off unless SLPACK_METRICS asks) go to
  stderr, so stdout carries the answers only. The exit code is 1 if any answer was an error.
* HTTP: ``python edge.zip --port 8080`` serves POST / (predict) and GET /metadata on 127.0.0.1
  (``--host 0.0.0.0`` to listen beyond this machine); one thread per connection, one shared session.
"""

from __future__ import annotations

import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, TextIO

JSON_HEADERS = {"content-type": "application/json"}


def serve_lines(infile: TextIO, outfile: TextIO) -> int:
    """Answer each non-empty input line; return how many answers were errors."""
    from slpack_handler.app import get_app

    app = get_app()
    errors = 0
    for line in infile:
        if not line.strip():
            continue
        response = app.handle_http("POST", "/", JSON_HEADERS, line.encode("utf-8", "surrogatepass"))
        errors += response.status >= 400
        outfile.write(response.body.decode() + "\n")
        outfile.flush()
    return errors


class _Handler(BaseHTTPRequestHandler):
    server_version = "slpack-edge"
    protocol_version = "HTTP/1.1"
    timeout = 30  # a client silent this long is disconnected: it cannot hold a thread forever

    def _answer(self) -> None:
        from slpack_handler.app import get_app

        app = get_app()
        length = int(self.headers.get("content-length") or 0)
        if length > app.settings.max_body_bytes:
            # Answer without reading a body we would refuse anyway; the connection is closed after.
            response = app.handle_http(
                "POST", self.path, JSON_HEADERS, b" " * (app.settings.max_body_bytes + 1)
            )
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = app.handle_http(self.command, self.path.split("?", 1)[0], headers, body)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:  # access logs go to stderr
        sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def serve_http(host: str, port: int) -> None:
    from slpack_handler.app import get_app

    get_app().model()  # load before accepting connections: a broken model fails the start, loudly
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    sys.stderr.write(f"slpack edge: serving on http://{host}:{server.server_address[1]}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(
    argv: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | BinaryIO | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python edge.zip",
        description="Answer model requests: JSON lines on stdin, or HTTP with --port.",
    )
    parser.add_argument("--port", type=int, help="serve HTTP on this port instead of reading stdin")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    args = parser.parse_args(argv)
    if args.port is not None:
        serve_http(args.host, args.port)
        return 0
    os.environ.setdefault("SLPACK_METRICS", "none")
    answers = stdout or sys.stdout
    saved, sys.stdout = (
        sys.stdout,
        sys.stderr,
    )  # stdout carries answers only; logs and metrics go to stderr
    try:
        errors = serve_lines(stdin or sys.stdin, answers)  # type: ignore[arg-type]
    finally:
        sys.stdout = saved
    return 1 if errors else 0
