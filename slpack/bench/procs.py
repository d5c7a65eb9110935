"""Isolated interpreters under the stopwatch: one :class:`Child` per started function.

Each child is a new ``python -I -S`` running :mod:`slpack.bench.driver` with ``sys.path`` set
to what the function ships with (see :class:`Target`). The cold start is timed from the parent,
from just before the process is spawned to the moment the driver's first-response line arrives
on a dedicated pipe, so interpreter start-up, imports, model load and the first inference all
count, as they do in a Lambda cold start. The child's stdout and stderr (metrics lines, logs,
tracebacks) go to a log file, never into the protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from slpack.errors import SlpackError

DRIVER = Path(__file__).with_name("driver.py")
REPLY_TIMEOUT_S = 600.0  # a function that says nothing for this long is taken as hung

# What a Lambda execution environment sets and a handler may read (its metric dimensions).
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "slpack-bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class Target:
    """One function to start: its driver spec (see the driver's docstring) and environment."""

    name: str
    spec: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class ColdStart:
    """A child's first response: wall time seen by the parent, phases seen by the child."""

    ms: float
    phases_ms: dict[str, float]
    peak_rss_mib: float
    modules: int
    response: Any


class Child:
    """A running function; start it with :meth:`start`, which times the cold start."""

    def __init__(self, target: Target, workdir: Path) -> None:
        self.target = target
        workdir.mkdir(parents=True, exist_ok=True)
        self._spec_file = workdir / f"{target.name}.json"
        self._spec_file.write_text(json.dumps(target.spec))
        self._log_file = workdir / f"{target.name}.log"
        self._proc: subprocess.Popen[str] | None = None
        self._channel: _LineReader | None = None

    def start(self) -> ColdStart:
        read_fd, write_fd = os.pipe()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **LAMBDA_ENV, **self.target.env}
        command = [sys.executable, "-I", "-S", str(DRIVER), str(self._spec_file), str(write_fd)]
        with open(self._log_file, "w") as log:
            spawned = time.perf_counter()
            try:
                self._proc = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    pass_fds=(write_fd,),
                    text=True,
                    cwd=self._spec_file.parent,
                )
            finally:
                os.close(write_fd)
            self._channel = _LineReader(read_fd)
            self._reply()
            answered = time.perf_counter()
        report = self._reply()
        phases: dict[str, float] = {}
        last = spawned
        for name, end in report["marks"]:  # each phase ends at its mark; startup begins at spawn
            phases[name], last = (end - last) * 1e3, end
        return ColdStart(
            ms=(answered - spawned) * 1e3,
            phases_ms=phases,
            peak_rss_mib=report["peak_rss_kib"] / 1024,
            modules=report["modules"],
            response=report["response"],
        )

    def warm(self, input_name: str, n: int) -> list[float]:
        """Time ``n`` in-process calls on a prepared input; milliseconds each."""
        self._send({"op": "warm", "input": input_name, "n": n})
        return [ns / 1e6 for ns in self._reply()["ns"]]

    def answer(self, input_name: str) -> Any:
        """One response to a prepared input (to check what the function answers)."""
        self._send({"op": "answer", "input": input_name})
        return self._reply()["response"]

    def stop(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(BrokenPipeError):  # the child may be gone already
            if self._proc.stdin:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._channel:
            self._channel.close()
        self._proc, self._channel = None, None

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _send(self, command: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(command) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            self._fail("exited")

    def _reply(self) -> Any:
        assert self._channel is not None
        try:
            line = self._channel.readline(REPLY_TIMEOUT_S)
        except TimeoutError:
            self._fail(f"did not answer within {REPLY_TIMEOUT_S:.0f} s")
        if not line:
            self._fail("exited")
        return json.loads(line)

    def _fail(self, what: str) -> NoReturn:
        self.stop()
        tail = self._log_file.read_text(errors="replace").strip().splitlines()[-12:]
        detail = "\n".join(tail) or "(no output)"
        raise SlpackError(
            f"the {self.target.name} function {what}; its output ends with:\n{detail}"
        )


class _LineReader:
    """Lines from a pipe with a deadline (a hung child must not hang the benchmark)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def readline(self, timeout_s: float) -> bytes:
        """The next line without its newline; ``b""`` at end of file."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                return b""
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def close(self) -> None:
        os.close(self._fd)
