"""``slpack build`` as a function: load, infer, convert, verify, probe, bundle.

Each step is a small function in its own module; this one only sequences them and assembles the
manifest. Nothing is written unless the parity gate passes (or ``allow_mismatch`` is set, in
which case the numbers are still recorded).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slpack.bundler import (
    bundle,
    convert,
    inputs,
    introspect,
    optimize,
    parity,
    probes,
    schema,
    stats,
    versions,
)
from slpack.errors import ParityError, SlpackError

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4
DEFAULT_PARITY_ROWS = 2000
DEFAULT_RUNTIME_PYTHON = (
    "3.12"  # the templates' default Lambda runtime, when no layer says otherwise
)


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


@dataclass
class BuildResult:
    bundle_dir: Path
    manifest: dict[str, Any]
    files: dict[str, Path]
    notes: list[str]
    parity: parity.ParityResult


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
    opts = options or BuildOptions()
    for key, value in overrides.items():
        if not hasattr(opts, key):
            raise TypeError(f"unknown build option {key!r}")
        setattr(opts, key, value)
    step = on_step or (lambda _: None)

    step("loading the model and the sample")
    model_path = Path(model) if isinstance(model, (str, os.PathLike)) else None
    if opts.converters:
        convert.load_converter_modules(opts.converters)
    fitted = inputs.load_model(model_path) if model_path else model
    data = inputs.load_sample(Path(sample)) if isinstance(sample, (str, os.PathLike)) else sample
    try:
        task = introspect.task_of(fitted)
    except ValueError as exc:
        raise SlpackError(
            f"{exc}; slpack serves classifiers, regressors and transformers."
        ) from None

    step("inferring the input schema")
    sch, frame = schema.infer_schema(fitted, data)
    frame = frame.head(opts.parity_rows).reset_index(drop=True)

    step("converting to ONNX")
    converted = convert.convert(fitted, sch, opts.opset, opts.ml_opset)
    model_bytes, level = optimize.optimize_offline(converted.onnx_model.SerializeToString())
    spec = parity.output_spec(converted.onnx_model, fitted, task)

    step("checking parity with scikit-learn")
    session = _session(model_bytes, fitted)
    result = _parity(fitted, sch, frame, session, spec, opts)
    if not result.passed and not opts.allow_mismatch:
        raise ParityError(_parity_message(result, fitted), result)

    step("probing missing values and unknown categories")
    result.probes = probes.probe_features(fitted, sch, frame, session, spec, opts.atol, opts.rtol)

    step("writing the bundle")
    sha = hashlib.sha256(model_bytes).hexdigest()
    name = _bundle_name(opts.name, model_path)
    layer = _layer_entry(opts.layer) if opts.layer else None
    with bundle.handler_files(
        (layer or {}).get("lock", {}).get("python") or DEFAULT_RUNTIME_PYTHON
    ) as handler:
        manifest = {
            "format": 1,
            "name": name,
            "version": opts.version or sha[:12],
            "created": _created(model_path),
            "task": task,
            "estimator": introspect.describe(fitted),
            "model": {
                "file": bundle.MODEL,
                "sha256": sha,
                "bytes": len(model_bytes),
                "ir_version": converted.onnx_model.ir_version,
                "opset": converted.opset,
                "optimization": level,
                "min_onnxruntime": ".".join(map(str, convert.MIN_ORT)),
            },
            "input": sch.to_manifest(),
            "output": spec.to_manifest(),
            "stats": stats.feature_stats(sch, frame),
            "parity": result.to_manifest(),
            "versions": versions.build_versions(),
            "runtime": {"intra_op_threads": opts.intra_op_threads, "inter_op_threads": 1},
            "files": {bundle.MODEL: sha, **bundle.file_hashes(handler)},
            "layer": layer,
        }
        bundle_dir = Path(out_dir) / name
        files = bundle.write_bundle(bundle_dir, model_bytes, manifest, handler)
    notes = list(converted.notes)
    if sch.dropped_columns:
        notes.append(f"sample columns not used by the model: {', '.join(sch.dropped_columns[:5])}")
    return BuildResult(bundle_dir, manifest, files, notes, result)


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


def _session(model_bytes: bytes, model: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise SlpackError(
            f"onnxruntime cannot load the converted {introspect.describe(model)} ({first}); "
            "try another --opset or report the estimator."
        ) from None


def _parity(
    model: Any,
    sch: schema.Schema,
    frame: Any,
    session: Any,
    spec: parity.OutputSpec,
    opts: BuildOptions,
) -> parity.ParityResult:
    try:
        expected = parity.sklearn_predictions(model, spec, sch.sklearn_rows(frame))
    except Exception as exc:
        raise SlpackError(
            f"scikit-learn could not predict on the sample ({str(exc).splitlines()[0][:200]}); "
            "give a sample shaped like the training data."
        ) from None
    try:
        got = parity.onnx_predictions(session, spec, sch.onnx_feeds(frame))
    except Exception as exc:
        raise SlpackError(
            "onnxruntime could not run the converted model on the sample "
            f"({str(exc).splitlines()[0][:200]})."
        ) from None
    result = parity.compare(expected, got, spec, opts.atol, opts.rtol)
    result.allow_mismatch = opts.allow_mismatch
    return result


def _parity_message(result: parity.ParityResult, model: Any) -> str:
    worst = result.worst[0] if result.worst else {}
    where = (
        f" (worst: row {worst.get('row')}, {worst.get('column')}: expected "
        f"{worst.get('expected')}, "
        f"got {worst.get('got')})"
        if worst
        else ""
    )
    hint = (
        "loosen --atol/--rtol if the differences are acceptable, or pass --allow-mismatch "
        "to build anyway"
    )
    if introspect.contains(model, introspect.TEXT_VECTORIZERS):
        hint = (
            "ONNX tokenizes and lowercases text with its own engine, so set the vectorizer's "
            "token_pattern to a simple pattern such as r'\\b\\w+\\b' (or lowercase=False "
            "for non-ASCII "
            "text) and retrain, or pass --allow-mismatch"
        )
    agreement = (
        f"label agreement {result.label_agreement:.2%}, "
        if result.label_agreement is not None
        else ""
    )
    return (
        f"the ONNX model disagrees with scikit-learn on {result.rows} sample rows "
        f"({agreement}max abs error {result.max_abs_error:.3g}){where}; {hint}."
    )


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
