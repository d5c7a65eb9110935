"""``slpack build`` as a function: load, infer, convert, verify, probe, bundle.

Each step is a small function in its own module; this one only sequences them and assembles the
manifest (typed by :mod:`slpack_handler.contract`). Nothing is written unless the parity gate
passes (or ``allow_mismatch`` is set, in which case the numbers are still recorded).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slpack.bundler import (
    baseline,
    bundle,
    convert,
    inputs,
    introspect,
    optimize,
    parity,
    probes,
    runtimes,
    schema,
    selection,
    stats,
    versions,
)
from slpack.errors import SlpackError
from slpack_handler.contract import DEFAULT_PYTHON, DEFAULTS, FORMAT, Env
from slpack_handler.errors import first_line

if TYPE_CHECKING:
    from slpack_handler.contract import Manifest, OnnxEntry

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4
DEFAULT_PARITY_ROWS = 2000


@dataclass
class BuildOptions:
    name: str | None = None
    version: str | None = None
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    parity_rows: int = DEFAULT_PARITY_ROWS
    allow_mismatch: bool = False
    opset: int = convert.DEFAULT_OPSET
    ml_opset: int = convert.DEFAULT_ML_OPSET
    converters: list[str] = field(default_factory=list)
    intra_op_threads: int = 1
    layer: Path | None = None  # a layer zip from slpack layer, recorded with its lock
    runtime: str = "auto"  # auto | python | onnxruntime | sklearn (slpack.bundler.selection)
    trust_pickle: bool = False  # sklearn runtime: ship a joblib pickle when skops cannot save it
    no_pickle: bool = False  # refuse joblib/pickle model files (also SLPACK_NO_PICKLE=1)
    trust: list[str] = field(default_factory=list)  # skops types accepted after review
    max_string_length: int = DEFAULTS[Env.MAX_STRING_LENGTH]
    baseline: Path | None = None  # rows the drift baseline describes (default: the sample)


@dataclass
class BuildResult:
    bundle_dir: Path
    manifest: Manifest
    files: dict[str, Path]
    notes: list[str]
    parity: parity.ParityResult
    runtime_detail: str = ""  # why this runtime, with the figures measured (build.json)


def build_bundle(
    model: Any,
    sample: Any,
    out_dir: Path | str = "dist",
    options: BuildOptions | None = None,
    on_step: Callable[[str], None] | None = None,
    **overrides: Any,
) -> BuildResult:
    """Build a bundle from a model (object or path) and a sample (DataFrame, array or path).

    Keyword ``overrides`` set :class:`BuildOptions` fields, so tests and scripts can write
    ``build_bundle(model, X, tmp, name="iris")``.
    """
    opts = _options(options, overrides)
    step = on_step or (lambda _: None)

    step("loading the model and the sample")
    model_path = Path(model) if isinstance(model, (str, os.PathLike)) else None
    if opts.converters:
        convert.load_converter_modules(opts.converters)
    fitted = inputs.load_model(model_path, opts.no_pickle, opts.trust) if model_path else model
    data = inputs.load_sample(Path(sample)) if isinstance(sample, (str, os.PathLike)) else sample
    task = _task(fitted)

    step("inferring the input schema")
    sch, frame = schema.infer_schema(fitted, data)
    reference = baseline.reference_rows(fitted, sch, frame, opts.baseline)
    frame, notes = inputs.bound_strings(frame, sch.names, opts.max_string_length)
    frame = frame.head(opts.parity_rows).reset_index(drop=True)

    onnx_entry: OnnxEntry | None
    notes_converted: list[str]
    if opts.runtime == "sklearn":
        step("saving the pipeline for the sklearn runtime")
        spec = parity.sklearn_output_spec(fitted, task)
        onnx_bytes, onnx_entry, notes_converted = None, None, []
    else:
        step("converting to ONNX")
        converted = convert.convert(fitted, sch, opts.opset, opts.ml_opset)
        onnx_bytes, level = optimize.optimize_offline(converted.onnx_model.SerializeToString())
        spec = parity.output_spec(converted.onnx_model, fitted, task)
        onnx_entry = {
            "file": runtimes.ONNX_FILE,
            "sha256": runtimes.onnx_artifact(onnx_bytes).sha256,
            "bytes": len(onnx_bytes),
            "ir_version": converted.onnx_model.ir_version,
            "opset": converted.opset,
            "optimization": level,
            "min_onnxruntime": ".".join(map(str, convert.MIN_ORT)),
        }
        notes_converted = converted.notes

    step("checking parity with scikit-learn")
    job = selection.Job(
        fitted,
        sch,
        spec,
        frame,
        _expected(fitted, sch, frame, spec),
        opts.atol,
        opts.rtol,
        opts.allow_mismatch,
        opts.intra_op_threads,
    )
    if onnx_bytes is None:
        verified = selection.select_sklearn(job, opts.trust_pickle)
    else:
        verified = selection.select(opts.runtime, job, converted.onnx_model, onnx_bytes)
    artifact = verified.local.artifact

    step("probing missing values and unknown categories")
    verified.result.probes = probes.probe_features(
        fitted, sch, frame, verified.local, opts.atol, opts.rtol
    )

    step("measuring the drift baseline")
    drift_baseline = baseline.build_baseline(fitted, sch, spec, reference)

    step("writing the bundle")
    name = _bundle_name(opts.name, model_path)
    layer = _layer_entry(opts.layer) if opts.layer else None
    python = (layer or {}).get("lock", {}).get("python") or DEFAULT_PYTHON
    with bundle.handler_files(python) as handler:
        manifest: Manifest = {
            "format": FORMAT,
            "name": name,
            "version": opts.version or artifact.sha256[:12],
            "created": _created(model_path),
            "task": task,  # type: ignore[typeddict-item]
            "estimator": introspect.describe(fitted),
            "model": {
                "file": artifact.file,
                "format": artifact.format,
                "sha256": artifact.sha256,
                "bytes": len(artifact.data),
            },
            "onnx": onnx_entry,
            "runtime": verified.entry,
            "input": sch.to_manifest(),
            "output": spec.to_manifest(),
            "example": stats.example_row(sch, frame),
            "stats": stats.feature_stats(sch, frame),
            "baseline": drift_baseline,
            "parity": verified.result.to_manifest(),
            "versions": versions.build_versions(),
            "files": {f"model/{artifact.file}": artifact.sha256, **bundle.file_hashes(handler)},
            "layer": layer,
        }
        bundle_dir = Path(out_dir) / name
        files = bundle.write_bundle(bundle_dir, manifest, artifact, handler, onnx_bytes)
        files["report"] = bundle.write_report(
            bundle_dir, verified.entry, verified.measured, verified.detail
        )
    notes += notes_converted
    if sch.dropped_columns:
        notes.append(f"sample columns not used by the model: {', '.join(sch.dropped_columns[:5])}")
    return BuildResult(bundle_dir, manifest, files, notes, verified.result, verified.detail)


def _options(options: BuildOptions | None, overrides: dict[str, Any]) -> BuildOptions:
    opts = options or BuildOptions()
    for key, value in overrides.items():
        if not hasattr(opts, key):
            raise TypeError(f"unknown build option {key!r}")
        setattr(opts, key, value)
    return opts


def _task(fitted: Any) -> str:
    try:
        return introspect.task_of(fitted)
    except ValueError as exc:
        raise SlpackError(
            f"{exc}; slpack serves classifiers, regressors, outlier detectors and transformers."
        ) from None


def _expected(model: Any, sch: schema.Schema, frame: Any, spec: parity.OutputSpec) -> Any:
    """scikit-learn's own answers on the sample: what every runtime must reproduce."""
    try:
        return parity.sklearn_predictions(model, spec, sch.sklearn_rows(frame))
    except Exception as exc:
        raise SlpackError(
            f"scikit-learn could not predict on the sample ({first_line(exc)}); "
            "give a sample shaped like the training data."
        ) from None


def _layer_entry(zip_path: Path) -> dict[str, Any]:
    """The layer the bundle is meant to run on: its file, hash and lock (wheel hashes)."""
    from slpack.layer.lockfile import lock_of
    from slpack.ziputil import sha256_file

    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise SlpackError(
            f"the layer {zip_path} does not exist; build it with slpack layer or fix the path."
        )
    lock = lock_of(zip_path)
    keep = ("python", "arch", "runtime", "spec", "packages")
    return {
        "file": zip_path.name,
        "sha256": sha256_file(zip_path),
        "lock": {k: lock[k] for k in keep if k in lock},
    }


_NAME = re.compile(r"[^a-z0-9-]+")


def _bundle_name(name: str | None, model_path: Path | None) -> str:
    raw = name or (model_path.stem if model_path else "model")
    cleaned = _NAME.sub("-", raw.lower()).strip("-")
    if not cleaned:
        raise SlpackError(f"{raw!r} cannot name a bundle; use letters, digits and dashes.")
    return cleaned[:64]


def _created(model_path: Path | None) -> str:
    """SOURCE_DATE_EPOCH, else the model file's time: same inputs, same manifest, same zip."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        stamp = float(epoch)
    elif model_path is not None:
        stamp = model_path.stat().st_mtime
    else:
        stamp = datetime.now(timezone.utc).timestamp()
    return datetime.fromtimestamp(int(stamp), timezone.utc).isoformat().replace("+00:00", "Z")
