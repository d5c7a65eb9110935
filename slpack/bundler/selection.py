"""Which runtime a bundle ships: the one asked for, or (``auto``) the one that serves it best.

``auto`` prefers the Python runtime (no layer, a cold start near the bare interpreter's, a
fraction of the memory) when it can evaluate every operator of the graph, passes the parity
gate, and answers a single row no more than :data:`AUTO_MARGIN` times slower than onnxruntime,
measured here on the sample through each runtime's request path. Otherwise onnxruntime, with the
reason recorded. Either way the runtime that ships is the one the parity gate checked.

The manifest records the choice and its rule; the timings go to the build report (build.json
beside the bundle), not into function.zip: they differ on every run, and a manifest that changed
with them would break the byte-identical zip that makes a redeploy of the same inputs a no-op.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slpack.bundler import introspect, parity, runtimes
from slpack.bundler.schema import Schema
from slpack.errors import ParityError, SlpackError
from slpack_handler.errors import first_line

if TYPE_CHECKING:
    from slpack_handler.contract import RuntimeEntry, RuntimeMeasure

# A Python-runtime function starts ~10x faster and takes a fifth of the memory; for the
# low-volume endpoints it serves, a single row a quarter slower is worth that.
AUTO_MARGIN = 1.25
CHOICES = ("auto", "python", "onnxruntime", "sklearn")
_BATCH = 100
_MEASURE_S = 0.15  # time spent timing each runtime and input size, at most


@dataclass
class Job:
    """What every candidate is checked against: the model, its schema and scikit-learn's answers."""

    model: Any
    schema: Schema
    spec: parity.OutputSpec
    frame: Any
    expected: parity.Predictions
    atol: float
    rtol: float
    allow_mismatch: bool
    threads: int = 1


@dataclass
class Selected:
    local: runtimes.LocalRuntime
    result: parity.ParityResult
    entry: RuntimeEntry  # for the manifest: stable for the same inputs
    measured: dict[str, RuntimeMeasure] = field(default_factory=dict)  # for build.json
    detail: str = ""  # the reason with the measured figures, for the report


def select(requested: str, job: Job, onnx_model: Any, onnx_bytes: bytes) -> Selected:
    """The verified runtime for ``requested`` (auto, python or onnxruntime)."""
    if requested not in CHOICES:
        raise SlpackError(f"--runtime must be one of {', '.join(CHOICES)}, not {requested!r}.")
    if requested == "onnxruntime":
        return _onnxruntime(job, onnx_bytes, "flag", "asked for with --runtime onnxruntime")
    try:
        artifact = runtimes.python_artifact(onnx_model)
    except runtimes.UnsupportedGraph as exc:
        if requested == "python":
            raise SlpackError(
                f"{exc.args[0]}; build with --runtime onnxruntime (or auto, which falls back)."
            ) from None
        return _onnxruntime(job, onnx_bytes, "auto", f"the python runtime lacks {exc.ops[0]}")
    python = runtimes.LocalRuntime(artifact, job.schema, job.spec, job.model)
    if requested == "python":
        reason = "asked for with --runtime python"
        return Selected(
            python, verify(python, job), _entry("python", "flag", reason), detail=reason
        )
    return _auto(job, python, onnx_bytes)


def select_sklearn(job: Job, trust_pickle: bool) -> Selected:
    """The original pipeline, saved and reloaded by the handler's sklearn runtime, verified.

    Never chosen by ``auto``: it needs a container image (scikit-learn and its dependencies do
    not fit a zip function) and starts in seconds, so it is a choice a user makes when a refusal
    names it, not one a build makes silently.
    """
    from slpack.bundler import sklearn_runtime

    artifact, trusted = sklearn_runtime.artifact(job.model, trust_pickle)
    feed = job.schema.sklearn_input
    if feed == "frame":  # columns the pipeline drops need not be sent; the runtime fills them
        job.schema.drop_unread(introspect.unread_columns(job.model, job.schema.names))
    reads: RuntimeEntry = {
        "feed": feed,  # type: ignore[typeddict-item]
        "trusted": trusted,
        "categories": sklearn_runtime.categories(job.frame),
        "columns": job.schema.model_columns,
    }
    local = runtimes.LocalRuntime(artifact, job.schema, job.spec, job.model, reads)
    reason = "asked for with --runtime sklearn"
    entry = _entry("sklearn", "flag", reason)
    entry.update(reads)
    entry["requirements"] = sklearn_runtime.requirements(job.model, feed, artifact.format)
    return Selected(local, verify(local, job), entry, detail=reason)


def _auto(job: Job, python: runtimes.LocalRuntime, onnx_bytes: bytes) -> Selected:
    ort = runtimes.LocalRuntime(runtimes.onnx_artifact(onnx_bytes), job.schema, job.spec, job.model)
    measured = {"python": measure(python, job.frame), "onnxruntime": measure(ort, job.frame)}
    ratio = measured["python"]["single_row_us"] / measured["onnxruntime"]["single_row_us"]
    figures = f"a row takes {ratio:.2f}x onnxruntime's time"
    try:
        result = verify(python, job)
    except ParityError as exc:
        selected = _onnxruntime(job, onnx_bytes, "auto", "the python runtime failed parity", ort)
        selected.detail = f"the python runtime failed the parity gate ({exc})"
    else:
        if ratio > AUTO_MARGIN:
            reason = f"the python runtime answers a row more than {AUTO_MARGIN}x slower"
            selected = _onnxruntime(job, onnx_bytes, "auto", reason, ort)
        else:
            reason = (
                f"every operator is covered, parity passed, and a row is within {AUTO_MARGIN}x "
                "of onnxruntime's time, with no layer and a fraction of the cold start"
            )
            selected = Selected(python, result, _entry("python", "auto", reason))
        selected.detail = f"{selected.entry['reason']} ({figures})"
    selected.measured = measured
    return selected


def _onnxruntime(
    job: Job,
    onnx_bytes: bytes,
    chosen_by: str,
    reason: str,
    local: runtimes.LocalRuntime | None = None,
) -> Selected:
    if local is None:
        artifact = runtimes.onnx_artifact(onnx_bytes)
        local = runtimes.LocalRuntime(artifact, job.schema, job.spec, job.model)
    entry = _entry("onnxruntime", chosen_by, reason)
    entry["intra_op_threads"] = job.threads
    entry["inter_op_threads"] = 1
    return Selected(local, verify(local, job), entry, detail=reason)


def _entry(name: str, chosen_by: str, reason: str) -> RuntimeEntry:
    return {"name": name, "chosen_by": chosen_by, "reason": reason}  # type: ignore[typeddict-item]


def verify(local: runtimes.LocalRuntime, job: Job) -> parity.ParityResult:
    """The parity gate: the runtime, fed the sample as requests, against scikit-learn."""
    try:
        got = local.predictions(job.frame)
    except SlpackError:
        raise
    except Exception as exc:
        first = first_line(exc)
        raise SlpackError(
            f"the {local.artifact.runtime} runtime could not answer the sample ({first})."
        ) from None
    result = parity.compare(job.expected, got, job.spec, job.atol, job.rtol)
    result.allow_mismatch = job.allow_mismatch
    if not result.passed and not job.allow_mismatch:
        message = parity.failure_message(result, job.model, local.artifact.runtime)
        raise ParityError(message, result)
    return result


def measure(local: runtimes.LocalRuntime, frame: Any) -> RuntimeMeasure:
    """Median microseconds of the handler's request path (JSON in, validate, run, shape, JSON
    out) for one row and for a 100-row batch of the sample's complete rows: what a caller waits
    for, minus the event routing and metrics every runtime shares."""
    complete = frame.dropna()
    rows = complete if len(complete) else frame
    batch = rows.iloc[[i % len(rows) for i in range(_BATCH)]]  # the sample's rows, cycled
    return {
        "single_row_us": round(_median_us(local.answer, _body(local, rows.head(1))), 2),
        "batch_us": round(_median_us(local.answer, _body(local, batch)), 2),
    }


def _body(local: runtimes.LocalRuntime, rows: Any) -> bytes:
    columns = local.schema.request_columns(rows)
    names = local.schema.names
    instances = [dict(zip(names, values)) for values in zip(*columns)]
    return json.dumps({"instances": instances}).encode()


def _median_us(call: Any, body: Any) -> float:
    """The median of timed calls, after a warm-up, within a fixed time budget."""
    for _ in range(5):
        call(body)
    samples: list[float] = []
    spent, started = 0.0, time.perf_counter()
    while len(samples) < 500 and (spent < _MEASURE_S or len(samples) < 7):
        t0 = time.perf_counter()
        call(body)
        samples.append(time.perf_counter() - t0)
        spent = time.perf_counter() - started
    return statistics.median(samples) * 1e6
