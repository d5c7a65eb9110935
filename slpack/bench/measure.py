"""Run the benchmark: both runtimes, the scikit-learn baseline and the floors, in one run.

Five functions are measured, each in its own isolated interpreter (see :mod:`slpack.bench.procs`):

- ``python``: the bundle on the Python runtime: the unpacked function.zip alone on ``sys.path``;
- ``onnxruntime``: the bundle on onnxruntime: the unpacked function.zip and the layer
  (numpy + onnxruntime);
- ``sklearn``: the same pipeline behind a scikit-learn handler, with scikit-learn's stack only;
- ``interpreter``: a bare interpreter answering with nothing imported: the Python runtime's floor;
- ``session``: numpy + onnxruntime + one ``InferenceSession`` and ``session.run`` on ready
  tensors: the onnxruntime path's floor.

The bundle ships one runtime; the other is made from the bundle's own files
(:mod:`slpack.bench.variants`), or reported as not applicable with the reason. Each function is
started once and thrown away first (bytecode caches written, files in the page cache), so every
measured run starts equally warm on disk; those first starts also check that every runtime
answers the baseline's requests as scikit-learn does. Cold starts then take turns in an order
rotated each round, so drift on a shared machine hits all alike; warm latency is measured in one
long-lived process each, in rounds that take turns the same way.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from slpack.bench import baseline as sklearn_baseline
from slpack.bench import sizes, stack, variants, workload
from slpack.bench.procs import Child, ColdStart, Target
from slpack.bench.sizes import Size
from slpack.errors import SlpackError

PYTHON, ONNXRUNTIME = variants.PYTHON, variants.ONNXRUNTIME
SKLEARN, INTERPRETER, SESSION = "sklearn", "interpreter", "session"
RUNTIMES = variants.RUNTIMES  # slpack's runtimes
TARGETS = (PYTHON, ONNXRUNTIME, SKLEARN, INTERPRETER, SESSION)
WARM_TARGETS = (PYTHON, ONNXRUNTIME, SKLEARN, SESSION)  # the interpreter floor answers nothing
# The handler as it ships, except the response cache: answering repeats from a cache is not
# what the latency figures are about.
HANDLER_ENV = {"SLPACK_CACHE_SIZE": "0"}
# The onnxruntime runtime sets this itself before importing numpy (runtime_onnx.py: OpenBLAS's
# idle worker threads cost a cold start CPU); the least an ONNX function must do includes it.
SESSION_ENV = {"OPENBLAS_NUM_THREADS": "1"}


@dataclass(frozen=True)
class BenchOptions:
    runs: int = 10  # cold starts per function
    requests: int = 2000  # warm requests per function and input
    batch_size: int = 100
    round_size: int = 200  # warm requests per function before the next one takes its turn
    warmup_requests: int = 50  # warm calls per input discarded before timing
    layer: Path | None = None
    sample: Path | None = None


@dataclass
class BenchResult:
    """Raw measurements; :mod:`slpack.bench.report` derives the figures and ratios."""

    bundle: dict[str, Any]
    environment: dict[str, Any]
    options: BenchOptions
    not_applicable: dict[str, str] = field(default_factory=dict)  # target -> why it is not run
    cold: dict[str, list[ColdStart]] = field(default_factory=dict)
    warm_ms: dict[str, dict[str, list[float]]] = field(
        default_factory=dict
    )  # input -> target -> samples
    sizes: dict[str, dict[str, Size]] = field(default_factory=dict)  # target -> part -> size
    agreement: dict[str, dict[str, Any]] = field(default_factory=dict)  # runtime -> figures

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets measured in this run, in :data:`TARGETS` order."""
        return tuple(t for t in TARGETS if t not in self.not_applicable)


def run_bench(
    bundle_dir: Path,
    baseline_model: Path,
    options: BenchOptions,
    on_step: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    """Measure ``bundle_dir``'s runtimes against ``baseline_model`` served with scikit-learn."""
    from slpack.bundler.bundle import read_manifest
    from slpack.serve.sandbox import layer_paths

    manifest: dict[str, Any] = dict(read_manifest(bundle_dir))
    on_step("loading the baseline model")
    model = _load_baseline(baseline_model)
    work = workload.make_workload(manifest, _sample(options.sample, model), options.batch_size)
    result = BenchResult(_bundle_info(bundle_dir, manifest), _environment(), options)

    with tempfile.TemporaryDirectory(prefix="slpack-bench-") as scratch:
        root = Path(scratch)
        on_step("making each runtime's function from the bundle")
        functions = variants.runtime_functions(bundle_dir, manifest, root / "functions")
        made = {r: f for r, f in functions.items() if isinstance(f, variants.Function)}
        result.not_applicable = {
            r: str(f) for r, f in functions.items() if isinstance(f, variants.NotApplicable)
        }
        if not made:
            reasons = "; ".join(f"{r}: {why}" for r, why in result.not_applicable.items())
            raise SlpackError(f"neither runtime can serve {bundle_dir} ({reasons}).")
        result.bundle["made"] = [r for r, f in made.items() if not f.shipped]
        layer = options.layer or _host_layer(on_step)
        layer_dirs = layer_paths(layer, root / "opt")
        baseline = sklearn_baseline.write_baseline(
            baseline_model, model, work.rows[workload.BATCH], manifest, root / "baseline"
        )
        sk_stack = stack.sklearn_stack(baseline.needs_pandas)
        stack_dir = stack.link_stack(sk_stack, root / "sklearn-layer")
        targets = _targets(
            made, layer_dirs, baseline.task_root, stack_dir, bundle_dir, manifest, work
        )
        if SESSION not in targets:
            result.not_applicable[SESSION] = result.not_applicable[ONNXRUNTIME]
        runs = root / "runs"

        on_step("first start of each function (discarded); checking the runtimes' answers")
        result.agreement = _first_starts(targets, runs, manifest, result.not_applicable)
        targets = {t: v for t, v in targets.items() if t not in result.not_applicable}
        result.cold = _cold(targets, runs, options, on_step)
        result.warm_ms = _warm(
            {t: v for t, v in targets.items() if t in WARM_TARGETS}, runs, options, on_step
        )

        on_step("measuring sizes (the scikit-learn stack once per environment)")
        result.sizes = _sizes(bundle_dir, manifest, made, layer, baseline.task_root, sk_stack)
        result.sizes = {t: s for t, s in result.sizes.items() if t in targets}
        result.environment["baseline_stack"] = sk_stack.versions
    return result


def _targets(
    made: dict[str, variants.Function],
    layer_dirs: tuple[Path, ...],
    baseline_root: Path,
    stack_dir: Path,
    bundle_dir: Path,
    manifest: dict[str, Any],
    work: workload.Workload,
) -> dict[str, Target]:
    """Every function to start, in :data:`TARGETS` order (the session floor needs the graph
    onnxruntime runs, so it comes with the onnxruntime function)."""
    targets = {
        runtime: Target(
            runtime,
            _handler_spec(
                [function.task_root, *(layer_dirs if runtime == ONNXRUNTIME else ())],
                "slpack_handler",
                "handler",
                work.events,
            ),
            HANDLER_ENV,
        )
        for runtime, function in made.items()
    }
    targets[SKLEARN] = Target(
        SKLEARN,
        _handler_spec(
            [baseline_root, stack_dir],
            sklearn_baseline.MODULE,
            sklearn_baseline.FUNCTION,
            work.events,
        ),
    )
    targets[INTERPRETER] = Target(
        INTERPRETER, {"kind": "interpreter", "path": [], "first": workload.SINGLE}
    )
    if ONNXRUNTIME in made:
        spec = _session_spec(layer_dirs, bundle_dir, manifest, work.feeds)
        targets[SESSION] = Target(SESSION, spec, SESSION_ENV)
    return {t: targets[t] for t in TARGETS if t in targets}


def _handler_spec(
    path: list[Path], module: str, function: str, events: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": "handler",
        "path": [str(p) for p in path],
        "module": module,
        "function": function,
        "inputs": events,
        "first": workload.SINGLE,
    }


def _session_spec(
    layer_dirs: tuple[Path, ...], bundle_dir: Path, manifest: Any, feeds: dict[str, Any]
) -> dict[str, Any]:
    """The session floor: a bare session on the bundle's verified ONNX graph."""
    runtime = manifest.get("runtime") or {}
    return {
        "kind": "session",
        "path": [str(p) for p in layer_dirs],
        "model": str(bundle_dir / (manifest.get("onnx") or {}).get("file", "model.onnx")),
        "intra_op_threads": int(runtime.get("intra_op_threads", 1)),
        "inter_op_threads": int(runtime.get("inter_op_threads", 1)),
        "outputs": manifest["output"]["names"],
        "inputs": feeds,
        "first": workload.SINGLE,
    }


def _first_starts(
    targets: dict[str, Target], runs: Path, manifest: dict[str, Any], not_applicable: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Start each function once (not measured); check each runtime answers as scikit-learn does.

    A runtime the bench made that disagrees is reported as not applicable (the build's parity
    gate would not have shipped it); the runtime the bundle ships disagreeing means the baseline
    is not the bundle's model.
    """
    answers = {}
    for name, target in targets.items():
        with Child(target, runs) as child:
            child.start()
            if name in (*RUNTIMES, SKLEARN):
                answers[name] = child.answer(workload.BATCH)
    theirs = _predictions(SKLEARN, answers[SKLEARN])
    shipped = (manifest.get("runtime") or {}).get("name")
    agreement = {}
    for runtime in (r for r in RUNTIMES if r in answers):
        try:
            agreement[runtime] = _agreement(_predictions(runtime, answers[runtime]), theirs)
        except _Disagreement as exc:
            if runtime == shipped:
                raise SlpackError(
                    f"the bundle's {runtime} function does not answer as the baseline does "
                    f"({exc}); pass the model file the bundle was built from."
                ) from None
            not_applicable[runtime] = f"{exc}: the parity gate would not ship it"
    if not agreement:
        raise SlpackError(
            "no runtime answers the baseline's requests as scikit-learn does; pass the model "
            "file the bundle was built from."
        )
    return agreement


def _cold(
    targets: dict[str, Target], runs: Path, options: BenchOptions, on_step: Callable[[str], None]
) -> dict[str, list[ColdStart]]:
    names = list(targets)
    cold: dict[str, list[ColdStart]] = {}
    for i in range(options.runs):
        on_step(f"cold starts: round {i + 1}/{options.runs}")
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:  # rotated: no function always goes first
            with Child(targets[name], runs) as child:
                start = child.start()
            if name in (*RUNTIMES, SKLEARN):  # a fast error is not a cold start
                _predictions(name, start.response)
            cold.setdefault(name, []).append(start)
    return cold


def _warm(
    targets: dict[str, Target], runs: Path, options: BenchOptions, on_step: Callable[[str], None]
) -> dict[str, dict[str, list[float]]]:
    """Warm latency per input: each function in its own process, rounds taking turns."""
    samples: dict[str, dict[str, list[float]]] = {}
    children = [Child(target, runs / "warm") for target in targets.values()]
    try:
        for child in children:
            child.start()
        for name in (workload.SINGLE, workload.BATCH):
            on_step(f"warm requests: {name} ({options.requests} per function)")
            for child in children:
                child.warm(name, options.warmup_requests)
            per_target = samples.setdefault(name, {})
            done = 0
            while done < options.requests:
                n = min(options.round_size, options.requests - done)
                for child in children:
                    per_target.setdefault(child.target.name, []).extend(child.warm(name, n))
                done += n
    finally:
        for child in children:
            child.stop()
    return samples


def _sizes(
    bundle_dir: Path,
    manifest: dict[str, Any],
    made: dict[str, variants.Function],
    layer: Path,
    baseline_root: Path,
    sk_stack: stack.Stack,
) -> dict[str, dict[str, Size]]:
    """What each function deploys: function.zip (+ layer), or the baseline's folder + stack."""
    layer_size = _layer_size(layer)
    graph = bundle_dir / (manifest.get("onnx") or {}).get("file", "model.onnx")
    found = {
        runtime: {"function": sizes.archive_size(function.archive)}
        for runtime, function in made.items()
    }
    if ONNXRUNTIME in found:
        found[ONNXRUNTIME]["layer"] = layer_size
    found[SKLEARN] = {
        "function": sizes.tree_size(baseline_root),
        "stack": stack.stack_size(sk_stack),
    }
    if graph.is_file():
        found[SESSION] = {"layer": layer_size, "model": sizes.size_of({graph.name: graph})}
    return found


def _predictions(name: str, response: Any) -> list[dict[str, Any]]:
    status = response.get("statusCode") if isinstance(response, dict) else None
    body = json.loads(response["body"]) if status is not None else response
    if status != 200 or "predictions" not in body:
        raise SlpackError(
            f"the {name} function did not answer the benchmark's request (status {status}: "
            f"{str(body)[:300]})."
        )
    return body["predictions"]  # type: ignore[no-any-return]


class _Disagreement(Exception):
    """A runtime's answers differ from scikit-learn's; str() says how."""


def _agreement(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """How closely a runtime's answers match scikit-learn's: both must serve the same model."""
    key = next((k for k in ("probabilities", "value", "embedding") if k in ours[0]), None)
    if len(ours) != len(theirs) or any(k in ours[0] and k not in theirs[0] for k in ("label", key)):
        raise _Disagreement("its predictions are shaped unlike scikit-learn's")
    agreement: dict[str, Any] = {"rows": len(ours)}
    if "label" in ours[0]:
        agreement["label_agreement"] = float(
            np.mean([str(a["label"]) == str(b["label"]) for a, b in zip(ours, theirs)])
        )
    if key is not None:
        a, b = _numbers(ours, key), _numbers(theirs, key)
        if a.shape != b.shape:
            raise _Disagreement(f"its {key} are shaped unlike scikit-learn's")
        agreement["max_abs_error"] = float(np.max(np.abs(a - b), initial=0.0))
        tolerance = 1e-2 * max(1.0, float(np.max(np.abs(b), initial=0.0)))
        if agreement["max_abs_error"] > tolerance:
            raise _Disagreement(
                f"its {key} differ from scikit-learn's by up to {agreement['max_abs_error']:.3g}"
            )
    if agreement.get("label_agreement", 1.0) < 0.9:
        raise _Disagreement(
            f"it agrees with scikit-learn on only {agreement['label_agreement']:.0%} of labels"
        )
    return agreement


def _numbers(predictions: list[dict[str, Any]], key: str) -> np.ndarray:
    """One row of floats per prediction (probabilities in the first prediction's class order)."""
    first = predictions[0][key]
    if isinstance(first, dict):
        classes = list(first)
        return np.array(
            [[p[key].get(c, np.nan) for c in classes] for p in predictions], dtype=np.float64
        )
    return np.array([np.ravel(p[key]) for p in predictions], dtype=np.float64)


def _load_baseline(path: Path) -> Any:
    try:
        return sklearn_baseline.load_model(path)
    except ImportError as exc:
        raise SlpackError(
            f"the baseline needs scikit-learn ({exc.name} is missing); install slpack[build]."
        ) from None


def _sample(path: Path | None, model: Any) -> Any:
    if path is None:
        return None
    from slpack.bundler.inputs import load_sample
    from slpack.bundler.schema import as_frame

    return as_frame(load_sample(path), model)


def _host_layer(on_step: Callable[[str], None]) -> Path:
    """The layer ``slpack layer --from-env`` makes of this environment (cached by content)."""
    from slpack.layer import build_layer

    on_step("building the layer from this environment (cached)")
    return build_layer(from_env=True, on_step=on_step).zip_path


def _layer_size(layer: Path) -> Size:
    """A layer zip as it ships; a layer folder with the bytecode it holds."""
    return sizes.archive_size(layer) if layer.is_file() else sizes.tree_size(layer, bytecode=True)


def _bundle_info(bundle_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": str(bundle_dir),
        "name": manifest.get("name"),
        "version": manifest.get("version"),
        "task": manifest.get("task"),
        "estimator": manifest.get("estimator"),
        "runtime": (manifest.get("runtime") or {}).get("name"),
    }


def _environment() -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": {
            d: version(d) for d in ("slpack", "numpy", "onnxruntime", "scikit-learn", "pandas")
        },
    }
