"""The worker pool: awslambdaric processes against the local Runtime API, with a stand-in handler.

Each worker is a real ``python -I -S`` process running awslambdaric, so these tests exercise the
same code path Lambda runs: the Runtime API headers, the isolation of sys.path, crash and
timeout handling, init errors and the pool's bounds.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from slpack.serve.invocation import Outcome, Result
from slpack.serve.workers import FunctionInitError, WorkerPool

pytestmark = pytest.mark.slow


class Lines:
    """A log sink that keeps every line, for assertions."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, source: str, line: str) -> None:
        self.lines.append((source, line))

    def of(self, source: str) -> list[str]:
        return [line for s, line in self.lines if s == source]


def call(pool: WorkerPool, command: Any, **kwargs: Any) -> Result:
    return pool.invoke(json.dumps(command).encode(), **kwargs)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_worker_runs_like_lambda(standin_config: Callable[..., Any]) -> None:
    log = Lines()
    config = standin_config(timeout_s=7.0, environment={"SLPACK_METRICS": "emf"})
    with WorkerPool(config, size=1, log=log) as pool:
        result = call(
            pool,
            {"hello": "world"},
            request_id="req-1",
            client_context=json.dumps({"custom": {"k": "v"}}),
        )
    assert result.outcome is Outcome.RESPONSE and result.worker == "w1"
    echo = json.loads(result.body)
    assert echo["event"] == {"hello": "world"}
    assert echo["request_id"] == "req-1"
    assert echo["client_context"] == {"k": "v"}
    assert 0 < echo["remaining_ms"] <= 7000  # the deadline header, counted from delivery
    # Isolation: the task root first, no site-packages, nothing of this environment importable.
    assert echo["sys_path"][0] == str(config.task_root)
    assert not any("site-packages" in p for p in echo["sys_path"])
    assert echo["importable"] == []
    env = echo["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "standin"
    assert env["_HANDLER"] == "standin.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(config.task_root)
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["SLPACK_METRICS"] == "emf"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    # Worker output is relayed line by line under the worker's name, plus a REPORT line.
    assert "handled req-1" in log.of("w1")
    assert any(line.startswith("REPORT RequestId: req-1 Duration:") for line in log.of("w1"))


def test_function_error_keeps_the_worker(standin_config: Callable[..., Any]) -> None:
    with WorkerPool(standin_config(), size=1, log=Lines()) as pool:
        failed = call(pool, {"raise": "bad things"})
        after = call(pool, {"n": 1})
    assert failed.outcome is Outcome.ERROR
    assert failed.error_type == "RuntimeError"
    assert failed.error_message() == "RuntimeError: bad things"
    assert after.ok and after.worker == "w1"  # an exception is not a crash


def test_crashed_worker_is_replaced(standin_config: Callable[..., Any]) -> None:
    log = Lines()
    with WorkerPool(standin_config(), size=1, log=log) as pool:
        first = json.loads(call(pool, {}).body)["pid"]
        crashed = call(pool, {"exit": 3})
        after = call(pool, {})
    assert crashed.outcome is Outcome.CRASHED
    assert "exit status 3" in crashed.error_message()
    assert after.ok and after.worker == "w2"
    assert json.loads(after.body)["pid"] != first
    assert any("w2 started" in line for line in log.of("serve"))


def test_worker_killed_mid_request_answers_at_once_and_is_replaced(
    standin_config: Callable[..., Any],
) -> None:
    with WorkerPool(standin_config(timeout_s=30.0), size=1, log=Lines()) as pool:
        outcome: list[Result] = []
        caller = threading.Thread(target=lambda: outcome.append(call(pool, {"sleep": 30})))
        caller.start()
        wait_until(lambda: any(w.busy for w in pool.workers()))
        victim = next(w for w in pool.workers() if w.busy)
        killed_at = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        caller.join(timeout=5)
        assert not caller.is_alive()
        assert time.monotonic() - killed_at < 2
        assert outcome[0].outcome is Outcome.CRASHED
        assert "SIGKILL" in outcome[0].error_message()
        after = call(pool, {})
        assert after.ok and after.worker != victim.name
        assert [w.pid for w in pool.workers()] != [victim.pid]


def test_worker_killed_while_idle_is_replaced_without_losing_the_next_request(
    standin_config: Callable[..., Any],
) -> None:
    with WorkerPool(standin_config(), size=1, log=Lines()) as pool:
        (idle,) = pool.workers()
        os.kill(idle.pid, signal.SIGKILL)
        wait_until(lambda: not pool.workers()[0].alive)
        result = call(pool, {})
    assert result.ok and result.worker == "w2"


def test_timeout_kills_the_worker(standin_config: Callable[..., Any]) -> None:
    with WorkerPool(standin_config(timeout_s=0.5), size=1, log=Lines()) as pool:
        started = time.monotonic()
        result = call(pool, {"sleep": 20})
        elapsed = time.monotonic() - started
        after = call(pool, {})
    assert result.outcome is Outcome.TIMED_OUT
    assert result.error_message() == "Sandbox.Timedout: Task timed out after 0.50 seconds"
    assert 0.5 <= elapsed < 2.0
    assert after.ok and after.worker == "w2"


def test_init_error_fails_start(standin_config: Callable[..., Any]) -> None:
    config = standin_config(handler="missing_module.handler")
    with pytest.raises(
        FunctionInitError,
        match=r"Runtime\.ImportModuleError: Unable to import module 'missing_module'",
    ):
        WorkerPool(config, size=2, log=Lines()).start()


def test_hanging_init_is_bounded(standin_config: Callable[..., Any], tmp_path: Any) -> None:
    (tmp_path / "task" / "hangs.py").write_text(
        "import time\ntime.sleep(60)\ndef handler(e, c):\n    return 1\n"
    )
    config = standin_config(handler="hangs.handler", init_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(FunctionInitError, match="init did not finish"):
        WorkerPool(config, size=1, log=Lines()).start()
    assert time.monotonic() - started < 3


def test_one_request_per_worker_and_a_bounded_queue(standin_config: Callable[..., Any]) -> None:
    with WorkerPool(standin_config(), size=2, queue_limit=1, log=Lines()) as pool:
        results: list[Result] = []
        lock = threading.Lock()

        def run() -> None:
            result = call(pool, {"sleep": 0.6})
            with lock:
                results.append(result)

        callers = [threading.Thread(target=run) for _ in range(3)]
        for caller in callers:
            caller.start()
        # Two run, one waits: all three are admitted before the fourth arrives.
        wait_until(lambda: sum(w.busy for w in pool.workers()) == 2)
        time.sleep(0.1)
        throttled = call(pool, {})
        for caller in callers:
            caller.join(timeout=10)
    assert throttled.outcome is Outcome.THROTTLED
    assert sorted(r.outcome.value for r in results) == ["response"] * 3
    assert {r.worker for r in results} == {"w1", "w2"}  # the queued caller reused a worker


def test_close_answers_waiting_callers(standin_config: Callable[..., Any]) -> None:
    pool = WorkerPool(standin_config(), size=1, queue_limit=1, log=Lines())
    pool.start()
    results: list[Result] = []
    callers = [
        threading.Thread(target=lambda: results.append(call(pool, {"sleep": 30}))) for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    wait_until(lambda: any(w.busy for w in pool.workers()))
    time.sleep(0.1)
    pool.close()
    for caller in callers:
        caller.join(timeout=5)
        assert not caller.is_alive()
    assert {r.outcome for r in results} == {Outcome.CRASHED}


def test_a_layer_locked_for_another_runtime_is_refused_before_any_worker_starts(
    tmp_path: Path,
) -> None:
    import zipfile

    from slpack.errors import SlpackError
    from slpack.layer.target import host_target
    from slpack.serve.sandbox import layer_paths

    layer = tmp_path / "ort-1.0-np2.0-py39-x86_64.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("python/numpy/__init__.py", "")
    other = "3.9" if host_target().python != "3.9" else "3.10"
    (tmp_path / "ort-1.0-np2.0-py39-x86_64.lock.json").write_text(
        json.dumps({"python": other, "arch": host_target().arch})
    )
    with pytest.raises(SlpackError, match=f"built for Python {other}"):
        layer_paths(layer, tmp_path / "out")
    (tmp_path / "ort-1.0-np2.0-py39-x86_64.lock.json").write_text(
        json.dumps({"python": host_target().python, "arch": host_target().arch})
    )
    assert layer_paths(layer, tmp_path / "out") == (tmp_path / "out" / "python",)
