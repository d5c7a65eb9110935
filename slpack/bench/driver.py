"""The child side of the benchmark: one isolated interpreter answering one function's requests.

Run as ``python -I -S driver.py SPEC FD``: no site-packages, and ``sys.path`` is the spec's
folders ahead of the standard library, so a function only reaches what it would ship with.
Standard library only, and nothing imported before the clock starts that the function under test
would not import itself.

Protocol (JSON lines): on the pipe ``FD`` the driver writes ``{"first": true}`` the moment the
first response exists (the parent stops its cold-start clock on that line), then one line with
the phase marks (``[name, perf_counter at its end]``: startup, driver, import, [session],
first_call), the peak RSS, the number of loaded modules and the first response. It then answers
commands read from stdin, one
reply line on ``FD`` each: ``{"op": "warm", "input": NAME, "n": N}`` times N calls in process
(nanoseconds); ``{"op": "answer", "input": NAME}`` returns one response; end of input exits.

Spec kinds: ``handler`` imports ``module`` and calls ``function(event, context)`` on the events;
``session`` imports only numpy and onnxruntime, creates the session and calls ``session.run`` on
prepared feeds: the least any ONNX function must do; ``interpreter`` imports nothing and answers
with nothing: the least any Python function must do.
"""

from __future__ import annotations  # annotations are never evaluated: typing is not imported

import time

STARTED = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the parent's perf_counter

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Call = Callable[[Any], Any]
    Loaded = tuple[Call, dict[str, Any], list[list[Any]]]


class LambdaContext:
    """The attributes of the Lambda context object that handlers read."""

    function_name = "slpack-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:slpack-bench"
    memory_limit_in_mb = "1024"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/slpack-bench"
    log_stream_name = "bench"
    identity = None
    client_context = None

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def peak_rss_kib() -> int:
    """High-water resident set size of this process so far (VmHWM; ru_maxrss where no /proc)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes


def handler_target(spec: dict[str, Any]) -> Loaded:
    """Import the function's handler; return (call, inputs, [[phase, end time], ...])."""
    import importlib

    module = importlib.import_module(spec["module"])
    function = getattr(module, spec["function"])
    imported = time.perf_counter()
    context = LambdaContext()

    def call(event: Any) -> Any:
        return function(event, context)

    return call, spec["inputs"], [["import", imported]]


def session_target(spec: dict[str, Any]) -> Loaded:
    """numpy + onnxruntime + one session: what every ONNX function pays at least."""
    import numpy
    import onnxruntime

    imported = time.perf_counter()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = spec["intra_op_threads"]
    options.inter_op_num_threads = spec["inter_op_threads"]
    session = onnxruntime.InferenceSession(
        spec["model"], options, providers=["CPUExecutionProvider"]
    )
    created = time.perf_counter()
    outputs = spec["outputs"]
    inputs = {
        name: {
            key: numpy.array(
                feed["values"], dtype=object if feed["dtype"] == "string" else feed["dtype"]
            ).reshape(feed["shape"])
            for key, feed in feeds.items()
        }
        for name, feeds in spec["inputs"].items()
    }

    def call(feeds: Any) -> Any:
        return session.run(outputs, feeds)

    return call, inputs, [["import", imported], ["session", created]]


def interpreter_target(spec: dict[str, Any]) -> Loaded:
    """An interpreter that answers at once with nothing imported: what every function pays."""

    def call(event: Any) -> Any:
        return None

    return call, {spec["first"]: None}, []


TARGETS = {"handler": handler_target, "session": session_target, "interpreter": interpreter_target}


def jsonable(response: Any) -> Any:
    """A handler's response as JSON; a session's arrays only as their shapes."""
    if isinstance(response, list):
        return {"outputs": [list(getattr(a, "shape", ())) for a in response]}
    return response


def warm(call: Call, value: Any, n: int) -> list[int]:
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        start = clock()
        call(value)
        times.append(clock() - start)
    return times


def main() -> None:
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    channel = os.fdopen(int(sys.argv[2]), "w")
    stdlib = [p for p in sys.path if p]
    sys.path[:] = spec["path"] + stdlib
    ready = time.perf_counter()  # the driver's own cost (json, the spec) ends here; same for all
    call, inputs, marks = TARGETS[spec["kind"]](spec)
    response = call(inputs[spec["first"]])
    answered = time.perf_counter()
    channel.write('{"first": true}\n')
    channel.flush()
    marks = [["startup", STARTED], ["driver", ready], *marks, ["first_call", answered]]
    report = {
        "marks": marks,
        "peak_rss_kib": peak_rss_kib(),
        "modules": len(sys.modules),
        "response": jsonable(response),
    }
    channel.write(json.dumps(report) + "\n")
    channel.flush()
    for line in sys.stdin:
        command = json.loads(line)
        value = inputs[command["input"]]
        if command["op"] == "warm":
            reply = {"ns": warm(call, value, command["n"])}
        else:
            reply = {"response": jsonable(call(value))}
        channel.write(json.dumps(reply) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
