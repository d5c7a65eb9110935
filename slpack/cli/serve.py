"""``slpack serve`` and ``slpack invoke``: run a bundle locally the way Lambda runs it.

Both start the same machinery (:func:`slpack.serve.local.local_function`): worker processes
running the bundle through awslambdaric against a local Runtime API, with only the bundle and
its layer importable. ``serve`` puts a Function URL in front of them; ``invoke`` sends one event
and prints the function's answer on stdout, the workers' output (logs, metric lines) on stderr.
"""

from __future__ import annotations

import enum
import errno
import itertools
import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text

from slpack.cli import app
from slpack.errors import SlpackError
from slpack.serve.events import EVENT_SHAPES

if TYPE_CHECKING:
    from slpack.serve.workers import LogSink

_err = Console(stderr=True, highlight=False, soft_wrap=True)


# The --event choices, named by the builders' table (stdlib only, cheap to import here).
EventShape = enum.Enum("EventShape", {shape: shape for shape in EVENT_SHAPES}, type=str)  # type: ignore[misc]


BUNDLE = typer.Argument(..., help="The dist/NAME folder `slpack build` wrote.", show_default=False)
LAYER = typer.Option(
    None,
    "--layer",
    help="Layer zip or folder; default: none for a bundle on the python runtime, else one built "
    "from this environment's numpy and onnxruntime.",
)
TIMEOUT = typer.Option(30.0, "--timeout", min=0.1, help="The function's timeout in seconds.")
DATA = typer.Option(
    ..., "--data", "-d", help="The request body: JSON, or @file.", show_default=False
)
EVENT = typer.Option(
    EventShape("direct"), "--event", help="The event shape the request arrives in."
)
ENV = typer.Option([], "--env", "-e", help="KEY=VALUE for the function's environment; repeatable.")


def _environment(pairs: list[str]) -> dict[str, str]:
    environment = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SlpackError(f"--env {pair!r} is not KEY=VALUE; write it as --env NAME=value.")
        environment[key] = value
    return environment


def _log_sink() -> LogSink:
    """Print each line with its source (w1, w2, ... or serve/http), one colour per source."""
    from slpack.serve.front import ACCESS_LOG
    from slpack.serve.workers import POOL

    palette = itertools.cycle(["cyan", "magenta", "green", "yellow", "blue"])
    colours: dict[str, str] = {POOL: "dim", ACCESS_LOG: "dim"}

    def log(source: str, line: str) -> None:
        colour = colours.get(source) or colours.setdefault(source, next(palette))
        _err.print(Text.assemble((f"[{source}] ", colour), line))

    return log


@app.command("serve")
def serve(
    bundle: Path = BUNDLE,
    port: int = typer.Option(8080, "--port", "-p", help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    workers: int = typer.Option(
        2, "--workers", "-w", min=1, help="Execution environments (concurrency)."
    ),
    layer: Path | None = LAYER,
    timeout: float = TIMEOUT,
    queue: int = typer.Option(
        16, "--queue", min=0, help="Requests that may wait for a busy worker; more get 429."
    ),
    env: list[str] = ENV,
) -> None:
    """Serve BUNDLE over HTTP with Function URL semantics, each worker a Lambda runtime."""
    from slpack.serve.front import FunctionUrlServer
    from slpack.serve.local import local_function

    log = _log_sink()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly, like Ctrl-C
    with local_function(
        bundle,
        log=log,
        environment=_environment(env),
        layer=layer,
        workers=workers,
        queue_limit=queue,
        timeout_s=timeout,
    ) as pool:
        try:
            server = FunctionUrlServer(pool, host, port, log=log)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SlpackError(f"port {port} is in use; pass --port with a free port.") from None
            raise
        with server:
            _err.print(
                f"[bold]{pool.config.name}[/] on [bold]{server.url}[/] "
                f"({workers} worker{'s' if workers != 1 else ''}, timeout {timeout:g} s). "
                f"Try: curl -s {server.url}/metadata  ·  Ctrl-C stops.",
                highlight=False,
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                _err.print("stopping.")


def _read_data(data: str) -> str:
    if not data.startswith("@"):
        return data
    path = Path(data[1:])
    try:
        return path.read_text()
    except OSError as exc:
        raise SlpackError(
            f"cannot read {path} ({exc.strerror}); pass --data JSON or @file."
        ) from None


def _response_status(response: Any) -> int:
    """The HTTP status an answer stands for: its statusCode, else 200."""
    if isinstance(response, dict) and isinstance(response.get("statusCode"), int):
        return int(response["statusCode"])
    return 200


@app.command("invoke")
def invoke(
    bundle: Path = BUNDLE,
    data: str = DATA,
    event: EventShape = EVENT,
    path: str = typer.Option("/", "--path", help="Request path for the HTTP event shapes."),
    layer: Path | None = LAYER,
    timeout: float = TIMEOUT,
    env: list[str] = ENV,
) -> None:
    """Send one request to BUNDLE through a Lambda runtime and print the function's answer."""
    from slpack.serve.events import HttpRequest
    from slpack.serve.invocation import new_request_id
    from slpack.serve.local import local_function

    body = _read_data(data)
    if event.value == "direct":
        try:
            json.loads(body)
        except ValueError as exc:
            raise SlpackError(
                f"--data is not valid JSON ({exc}); pass a JSON document or @file."
            ) from None
    request = HttpRequest(
        method="POST",
        path=path,
        headers=(("content-type", "application/json"), ("user-agent", "slpack-invoke")),
        body=body.encode(),
    )
    with local_function(
        bundle, log=_log_sink(), layer=layer, timeout_s=timeout, environment=_environment(env)
    ) as pool:
        request_id = new_request_id()
        payload = EVENT_SHAPES[event.value](request, request_id, pool.config.region)
        result = pool.invoke(json.dumps(payload).encode(), request_id=request_id)
    # The pool is closed here, so every line the worker wrote has been shown before the answer.
    if not result.ok:
        print(result.body.decode("utf-8", "replace"))
        raise SlpackError(
            f"the invocation failed ({result.outcome.value}): {result.error_message()}"
        )
    response = json.loads(result.body)
    print(json.dumps(response, indent=2))
    status = _response_status(response)
    _err.print(f"status {status} · {result.duration_ms:.1f} ms in {result.worker}", highlight=False)
    if status >= 400:
        raise SlpackError(f"the function answered with status {status} (the response is above).")
