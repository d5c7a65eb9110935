"""Worker processes running a function through ``awslambdaric``, and the pool that feeds them.

A :class:`Worker` is one execution environment: a fresh interpreter started in isolated mode
(``python -I -S``) whose ``sys.path`` holds only the task root (the unpacked function.zip), the
layer folders and the runtime folder (awslambdaric and its own dependencies) ahead of the
standard library: no site-packages, so an import that works here works in Lambda. It gets the
environment variables Lambda sets, and its own :class:`~slpack.serve.runtime_api.RuntimeApi`.

The :class:`WorkerPool` gives each worker one invocation at a time, as Lambda does; callers
beyond the free workers wait in a bounded queue and are throttled past it. A worker that dies
or overruns the timeout is killed and replaced, and its caller gets a ``CRASHED`` or
``TIMED_OUT`` result at once: nothing ever waits on a dead process.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from slpack.serve.invocation import (
    Invocation,
    Outcome,
    Result,
    describe_error,
    error_document,
    new_request_id,
)
from slpack.serve.runtime_api import RuntimeApi

LogSink = Callable[[str, str], None]
"""Receives ``(source, line)``: a worker's output line (source ``w1``, ``w2``...) or a pool
event."""

POOL = "serve"  # the source name of the pool's own log lines

# Run by `python -I -S -u -B -c`: build the sys.path Lambda builds (task root, layers, runtime, then
# the standard library that -I -S left), then hand over to awslambdaric as its bootstrap does.
# -B: /var/task and /opt are read-only in Lambda, so no worker may leave .pyc files for the next.
_BOOTSTRAP = """\
import os, sys
handler, layers = sys.argv[1], sys.argv[2:]
stdlib = [p for p in sys.path if p]
sys.path[:] = [os.environ["LAMBDA_TASK_ROOT"], *layers, os.environ["LAMBDA_RUNTIME_DIR"], *stdlib]
sys.argv[:] = ["awslambdaric", handler]
from awslambdaric.__main__ import main
main(sys.argv)
"""

# Variables a local run takes from the host, as Lambda hands an execution role's credentials in.
_PASSED_THROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows about a function: its code, layers, settings and environment."""

    name: str
    task_root: Path  # /var/task: the unpacked function.zip
    runtime_dir: Path  # /var/runtime: awslambdaric and its dependencies
    layers: tuple[Path, ...] = ()  # folders put on sys.path after the task root (/opt/python)
    handler: str = "slpack_handler.handler"
    timeout_s: float = 30.0
    init_timeout_s: float = 10.0  # Lambda's limit for the init phase
    memory_mb: int = 1024
    region: str = "us-east-1"
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's own variables
    python: str = sys.executable

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:000000000000:function:{self.name}"

    def process_environment(self, runtime_api: str) -> dict[str, str]:
        """The variables Lambda sets in an execution environment, then the function's own."""
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        today = time.strftime("%Y/%m/%d", time.gmtime())
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{today}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(self.runtime_dir),
            "_HANDLER": self.handler,
        }
        env.update({k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ})
        env.update(self.environment)
        return env


@dataclass(frozen=True)
class WorkerStatus:
    """A snapshot of one worker, for reports and for tests that inject faults."""

    name: str
    pid: int
    alive: bool
    busy: bool


class Worker:
    """One execution environment: an ``awslambdaric`` process and its Runtime API."""

    def __init__(self, name: str, config: FunctionConfig, log: LogSink) -> None:
        self.name = name
        self.config = config
        self._log = log
        self._busy = False
        self.api = RuntimeApi(config.arn, name)
        command = [
            config.python,
            "-I",
            "-S",
            "-u",
            "-B",
            "-c",
            _BOOTSTRAP,
            config.handler,
            *(str(p) for p in config.layers),
        ]
        try:
            self.process = subprocess.Popen(
                command,
                cwd=config.task_root,
                env=config.process_environment(self.api.address),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # a Ctrl-C at the terminal reaches serve, which stops workers
                start_new_session=True,
            )
        except OSError:
            self.api.close()
            raise
        assert self.process.stdout is not None
        self._relay = threading.Thread(
            target=self._relay_output,
            args=(self.process.stdout,),
            name=f"relay-{name}",
            daemon=True,
        )
        self._reaper = threading.Thread(target=self._reap, name=f"reaper-{name}", daemon=True)
        self._relay.start()
        self._reaper.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def status(self) -> WorkerStatus:
        return WorkerStatus(self.name, self.pid, self.alive, self._busy)

    def wait_ready(self) -> bool:
        """Wait for init to finish (the first poll for an event); False if it failed or hung."""
        deadline = time.monotonic() + self.config.init_timeout_s
        while time.monotonic() < deadline:
            if self.api.ready.wait(0.02):
                return True
            if not self.alive:
                self._reaper.join()
                return False
        return False

    def invoke(self, invocation: Invocation) -> Result:
        """Run one invocation; a worker that hangs past init or the timeout is killed."""
        self._busy = True
        try:
            self.api.submit(invocation)
            if not invocation.wait_delivered(self.config.init_timeout_s):
                message = f"Init did not finish within {self.config.init_timeout_s:g} seconds"
                self._expire(invocation, message)
            elif invocation.wait_finished() is None:
                message = f"Task timed out after {invocation.timeout_s:.2f} seconds"
                self._expire(invocation, message)
            return invocation.result
        finally:
            self._busy = False

    def _expire(self, invocation: Invocation, message: str) -> None:
        document = error_document("Sandbox.Timedout", message)
        if invocation.finish(Outcome.TIMED_OUT, document, "Sandbox.Timedout", self.name):
            self.kill()

    def kill(self) -> None:
        """SIGKILL the worker, as Lambda does on a timeout; the reaper notices."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the process and its Runtime API and wait for the helper threads."""
        self.kill()
        self.process.wait()
        self._reaper.join()
        self._relay.join()
        self.api.close()

    def _reap(self) -> None:
        code = self.process.wait()
        reason = f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        self.api.worker_exited(reason)

    def _relay_output(self, stream: IO[bytes]) -> None:
        # awslambdaric joins the lines of one error record with "\r": show them as lines.
        for raw in iter(stream.readline, b""):
            for line in raw.decode("utf-8", "replace").rstrip("\r\n").split("\r"):
                self._log(self.name, line)
        stream.close()


class FunctionInitError(RuntimeError):
    """The function could not initialise (its module failed to import, or init hung)."""


class WorkerPool:
    """``size`` workers taking one invocation each; up to ``queue_limit`` callers wait."""

    def __init__(
        self, config: FunctionConfig, *, size: int = 1, queue_limit: int = 0, log: LogSink
    ) -> None:
        if size < 1 or queue_limit < 0:
            raise ValueError("a pool needs at least one worker and a non-negative queue limit")
        self.config = config
        self.size = size
        self.queue_limit = queue_limit
        self._log = log
        self._names = (f"w{i}" for i in itertools.count(1))
        self._idle: queue.Queue[Worker | None] = queue.Queue()
        self._workers: dict[str, Worker] = {}
        self._lock = threading.Lock()
        self._admitted = 0
        self._closed = False

    def __enter__(self) -> WorkerPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start every worker and wait for their init, so a broken function fails here."""
        started = [self._spawn() for _ in range(self.size)]
        for worker in started:
            if not worker.wait_ready():
                problem = worker.api.init_error
                detail = describe_error(problem) if problem else "init did not finish in time"
                self.close()
                raise FunctionInitError(f"worker {worker.name} failed to initialise: {detail}")
            self._idle.put(worker)

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
    ) -> Result:
        """Run one event on the next free worker; never raises for a function's failure."""
        invocation = Invocation(
            payload,
            self.config.timeout_s,
            request_id=request_id or new_request_id(),
            client_context=client_context,
            cognito_identity=cognito_identity,
        )
        with self._lock:
            closed, full = self._closed, self._admitted >= self.size + self.queue_limit
            if not (closed or full):
                self._admitted += 1
        if closed:
            return _shut_down(invocation)
        if full:
            document = error_document("TooManyRequestsException", "Rate Exceeded.")
            invocation.finish(Outcome.THROTTLED, document, "TooManyRequestsException")
            return invocation.result
        try:
            worker = self._acquire()
            if worker is None:
                return _shut_down(invocation)
            result = worker.invoke(invocation)
            self._report(result)
            self._release(worker, result)
            return result
        finally:
            with self._lock:
                self._admitted -= 1

    def workers(self) -> list[WorkerStatus]:
        """The current workers (busy ones included), oldest first."""
        with self._lock:
            return [worker.status() for worker in self._workers.values()]

    def close(self) -> None:
        """Stop every worker; callers still waiting for one get a shutdown error."""
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
            waiting = self._admitted
        for worker in workers:
            worker.close()
        for _ in range(waiting + self.size):
            self._idle.put(None)

    # --- internals -----------------------------------------------------------------------------

    def _spawn(self) -> Worker:
        name = next(self._names)
        worker = Worker(name, self.config, self._log)
        with self._lock:
            self._workers[name] = worker
        self._log(POOL, f"{name} started (pid {worker.pid})")
        return worker

    def _acquire(self) -> Worker | None:
        """The next free worker; one that died while idle is replaced first."""
        worker = self._idle.get()
        if worker is None or worker.alive:
            return worker
        self._log(POOL, f"{worker.name} exited while idle; replacing it")
        return self._replace(worker)

    def _release(self, worker: Worker, result: Result) -> None:
        if worker.alive and result.outcome not in (Outcome.CRASHED, Outcome.TIMED_OUT):
            self._idle.put(worker)
            return
        self._log(POOL, f"{worker.name} lost ({result.outcome.value}); replacing it")
        replacement = self._replace(worker)
        if replacement is not None:
            self._idle.put(replacement)

    def _replace(self, worker: Worker) -> Worker | None:
        """Close ``worker`` and start its successor (None once the pool is closing)."""
        with self._lock:
            owned = self._workers.pop(worker.name, None) is not None
            closed = self._closed
        if owned:  # else close() already stopped it
            worker.close()
        return None if closed else self._spawn()

    def _report(self, result: Result) -> None:
        """A REPORT line per invocation, as Lambda writes to the function's log."""
        status = "" if result.ok else f" Status: {result.outcome.value} ({result.error_message()})"
        self._log(
            result.worker or POOL,
            f"REPORT RequestId: {result.request_id} Duration: {result.duration_ms:.2f} ms{status}",
        )


def _shut_down(invocation: Invocation) -> Result:
    document = error_document("Runtime.Shutdown", "the function is shutting down")
    invocation.finish(Outcome.CRASHED, document, "Runtime.Shutdown")
    return invocation.result
