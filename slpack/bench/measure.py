"""Run the benchmark: slpack, the scikit-learn baseline and the floor, interleaved, in one run.

Three functions are measured, each in its own isolated interpreter (see :mod:`slpack.bench.procs`):

- ``slpack``: the bundle's function.zip unpacked, with the layer (numpy + onnxruntime) only;
- ``baseline``: the same pipeline behind a scikit-learn handler, with scikit-learn's stack only;
- ``floor``: numpy + onnxruntime + one ``InferenceSession`` and ``session.run`` on ready tensors.

Each is started once and thrown away first (bytecode caches written, files in the page cache),
so every measured run starts equally warm on disk. Cold starts then alternate A B F B F A ...
(the order rotated each round) so drift on a shared machine hits all three alike; warm latency
is measured in one long-lived process each, in rounds that alternate the same way.
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
from slpack.bench import sizes, stack, workload
from slpack.bench.procs import Child, ColdStart, Target
from slpack.bench.sizes import Size
from slpack.errors import SlpackError

SLPACK, BASELINE, FLOOR = "slpack", "baseline", "floor"
TARGETS = (SLPACK, BASELINE, FLOOR)
# The handler as it ships, except the response cache: answering repeats from a cache is not
# what the latency figures are about.
SLPACK_ENV = {"SLPACK_CACHE_SIZE": "0"}


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
    cold: dict[str, list[ColdStart]] = field(default_factory=dict)
    warm_ms: dict[str, dict[str, list[float]]] = field(
        default_factory=dict
    )  # input -> target -> samples
    sizes: dict[str, dict[str, Size]] = field(default_factory=dict)  # side -> part -> size
    agreement: dict[str, Any] = field(default_factory=dict)


def run_bench(
    bundle_dir: Path,
    baseline_model: Path,
    options: BenchOptions,
    on_step: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    """Measure ``bundle_dir`` against ``baseline_model`` served with scikit-learn."""
    from slpack.bundler.bundle import read_manifest
    from slpack.serve.sandbox import layer_paths, unpack_bundle

    manifest = read_manifest(bundle_dir)
    on_step("loading the baseline model")
    model = _load_baseline(baseline_model)
    work = workload.make_workload(manifest, _sample(options.sample, model), options.batch_size)
    result = BenchResult(_bundle_info(bundle_dir, manifest), _environment(), options)

    with tempfile.TemporaryDirectory(prefix="slpack-bench-") as scratch:
        root = Path(scratch)
        task_root = unpack_bundle(bundle_dir, root / "task").task_root
        layer = options.layer or _host_layer(on_step)
        layer_dirs = layer_paths(layer, root / "opt")
        baseline = sklearn_baseline.write_baseline(
            baseline_model, model, work.rows[workload.BATCH], manifest, root / "baseline"
        )
        sk_stack = stack.sklearn_stack(baseline.needs_pandas)
        stack_dir = stack.link_stack(sk_stack, root / "sklearn-layer")
        targets = {
            SLPACK: Target(
                SLPACK,
                _handler_spec([task_root, *layer_dirs], "slpack_handler", "handler", work.events),
                SLPACK_ENV,
            ),
            BASELINE: Target(
                BASELINE,
                _handler_spec(
                    [baseline.task_root, stack_dir],
                    sklearn_baseline.MODULE,
                    sklearn_baseline.FUNCTION,
                    work.events,
                ),
            ),
            FLOOR: Target(FLOOR, _floor_spec(layer_dirs, bundle_dir, manifest, work.feeds)),
        }
        runs = root / "runs"

        on_step("first start of each function (discarded)")
        result.agreement = _first_starts(targets, runs)

        for i in range(options.runs):
            on_step(f"cold starts: round {i + 1}/{options.runs}")
            for name in (
                TARGETS[i % 3 :] + TARGETS[: i % 3]
            ):  # rotated: no function always goes first
                with Child(targets[name], runs) as child:
                    cold = child.start()
                if name != FLOOR:  # a fast error is not a cold start
                    _predictions(name, cold.response)
                result.cold.setdefault(name, []).append(cold)

        result.warm_ms = _warm(targets, runs, options, on_step)

        on_step("measuring sizes (the scikit-learn stack once per environment)")
        result.sizes = {
            SLPACK: {
                "function": sizes.archive_size(bundle_dir / "function.zip"),
                "layer": _layer_size(layer),
            },
            BASELINE: {
                "function": sizes.tree_size(baseline.task_root),
                "stack": stack.stack_size(sk_stack),
            },
        }
        result.environment["baseline_stack"] = sk_stack.versions
    return result


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


def _floor_spec(
    layer_dirs: tuple[Path, ...], bundle_dir: Path, manifest: Any, feeds: dict[str, Any]
) -> dict[str, Any]:
    """The floor: a bare session on the bundle's verified ONNX graph, whatever runtime ships."""
    runtime = manifest.get("runtime") or {}
    return {
        "kind": "floor",
        "path": [str(p) for p in layer_dirs],
        "model": str(bundle_dir / manifest["onnx"]["file"]),
        "intra_op_threads": int(runtime.get("intra_op_threads", 1)),
        "inter_op_threads": int(runtime.get("inter_op_threads", 1)),
        "outputs": manifest["output"]["names"],
        "inputs": feeds,
        "first": workload.SINGLE,
    }


def _first_starts(targets: dict[str, Target], runs: Path) -> dict[str, Any]:
    """Start each function once (not measured) and check both answer the batch alike."""
    answers = {}
    for name, target in targets.items():
        with Child(target, runs) as child:
            child.start()
            answers[name] = child.answer(workload.BATCH)
    return _agreement(
        _predictions(SLPACK, answers[SLPACK]), _predictions(BASELINE, answers[BASELINE])
    )


def _warm(
    targets: dict[str, Target], runs: Path, options: BenchOptions, on_step: Callable[[str], None]
) -> dict[str, dict[str, list[float]]]:
    """Warm latency per input: each function in its own process, rounds alternating."""
    samples: dict[str, dict[str, list[float]]] = {}
    children = [Child(target, runs / "warm") for target in targets.values()]
    try:
        for child in children:
            child.start()
        for name in (workload.SINGLE, workload.BATCH):
            on_step(f"warm requests: {name}")
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


def _predictions(name: str, response: Any) -> list[dict[str, Any]]:
    status = response.get("statusCode") if isinstance(response, dict) else None
    body = json.loads(response["body"]) if status is not None else response
    if status != 200 or "predictions" not in body:
        raise SlpackError(
            f"the {name} function did not answer the benchmark's request (status {status}: "
            f"{str(body)[:300]})."
        )
    return body["predictions"]


def _agreement(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """How closely the two functions' answers match: they must be serving the same model."""
    wrong_model = "pass the model file the bundle was built from"
    key = next((k for k in ("probabilities", "value", "embedding") if k in ours[0]), None)
    if len(ours) != len(theirs) or any(k in ours[0] and k not in theirs[0] for k in ("label", key)):
        raise SlpackError(
            f"the baseline's predictions are shaped unlike the bundle's; {wrong_model}."
        )
    agreement: dict[str, Any] = {"rows": len(ours)}
    if "label" in ours[0]:
        agreement["label_agreement"] = float(
            np.mean([str(a["label"]) == str(b["label"]) for a, b in zip(ours, theirs)])
        )
    if key is not None:
        a, b = _numbers(ours, key), _numbers(theirs, key)
        if a.shape != b.shape:
            raise SlpackError(
                f"the baseline's {key} are shaped unlike the bundle's; {wrong_model}."
            )
        agreement["max_abs_error"] = float(np.max(np.abs(a - b), initial=0.0))
        tolerance = 1e-2 * max(1.0, float(np.max(np.abs(b), initial=0.0)))
        if agreement["max_abs_error"] > tolerance:
            raise SlpackError(
                f"the baseline's {key} differ from the bundle's by up to "
                f"{agreement['max_abs_error']:.3g}; "
                f"{wrong_model}."
            )
    if agreement.get("label_agreement", 1.0) < 0.9:
        raise SlpackError(
            f"the baseline agrees with the bundle on only {agreement['label_agreement']:.0%} "
            f"of labels; {wrong_model}."
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
