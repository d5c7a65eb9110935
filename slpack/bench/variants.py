"""Each of slpack's runtimes as a function, made from the bundle's own files.

A bundle ships one runtime, but the benchmark compares both: the runtime the bundle does not ship
is made here from the verified ONNX graph the bundle folder keeps (``model.onnx``), exactly as
``slpack build --runtime ...`` would have shipped it: the same function.zip with ``model/``
holding that runtime's artifact and a manifest naming it. Nothing is rebuilt or re-verified from
the scikit-learn model; the benchmark's agreement check compares every runtime's answers with
scikit-learn's instead.

When the Python runtime cannot evaluate the graph, or the bundle has no graph, that runtime is
reported as not applicable with the reason (:class:`NotApplicable`), not measured.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slpack import ziputil
from slpack.bundler import runtimes
from slpack_handler.contract import MANIFEST_FILE, MODEL_DIR

FUNCTION_ZIP = "function.zip"
PYTHON, ONNXRUNTIME = "python", "onnxruntime"
RUNTIMES = (PYTHON, ONNXRUNTIME)


class NotApplicable(Exception):
    """A runtime cannot serve this bundle's model; str() says why, in a phrase."""


@dataclass(frozen=True)
class Function:
    """One runtime's function: its function.zip and the folder it is unpacked in (the task root).

    ``shipped`` is True for the bundle's own function.zip, False for one made here.
    """

    runtime: str
    archive: Path
    task_root: Path
    shipped: bool


def runtime_functions(
    bundle_dir: Path, manifest: dict[str, Any], dest: Path
) -> dict[str, Function | NotApplicable]:
    """Python and onnxruntime functions for the bundle (or why one cannot be made), in ``dest``."""
    shipped = (manifest.get("runtime") or {}).get("name")
    functions: dict[str, Function | NotApplicable] = {}
    for runtime in RUNTIMES:
        folder = dest / runtime
        if runtime == shipped:
            archive = bundle_dir / FUNCTION_ZIP
        else:
            try:
                artifact = _artifact(runtime, bundle_dir, manifest)
            except NotApplicable as exc:
                functions[runtime] = exc
                continue
            archive = _rewrite(bundle_dir / FUNCTION_ZIP, manifest, artifact, folder / FUNCTION_ZIP)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(folder / "task")
        functions[runtime] = Function(runtime, archive, folder / "task", runtime == shipped)
    return functions


def _artifact(runtime: str, bundle_dir: Path, manifest: dict[str, Any]) -> runtimes.Artifact:
    onnx_entry = manifest.get("onnx") or {}
    graph = bundle_dir / onnx_entry.get("file", runtimes.ONNX_FILE)
    if not onnx_entry or not graph.is_file():
        raise NotApplicable("the bundle keeps no ONNX graph to run it on")
    if runtime == ONNXRUNTIME:
        return runtimes.onnx_artifact(graph.read_bytes())
    import onnx

    try:
        return runtimes.python_artifact(onnx.load(str(graph)))
    except runtimes.UnsupportedGraph as exc:
        raise NotApplicable(f"the python runtime lacks {', '.join(exc.ops[:3])}") from None


def _rewrite(
    source: Path, manifest: dict[str, Any], artifact: runtimes.Artifact, target: Path
) -> Path:
    """``source`` (a function.zip) with ``model/`` holding ``artifact`` and a manifest naming it."""
    from slpack.bundler.bundle import manifest_bytes

    with zipfile.ZipFile(source) as zf:
        blobs = {
            info.filename: zf.read(info)
            for info in zf.infolist()
            if not info.filename.startswith(f"{MODEL_DIR}/") and not info.is_dir()
        }
    model_path = f"{MODEL_DIR}/{artifact.file}"
    files = {
        path: digest
        for path, digest in (manifest.get("files") or {}).items()
        if not path.startswith(f"{MODEL_DIR}/")
    }
    runtime: dict[str, Any] = {
        "name": artifact.runtime,
        "chosen_by": "flag",
        "reason": "made by slpack bench from the bundle's verified ONNX graph",
    }
    if artifact.runtime == ONNXRUNTIME:
        runtime.update(intra_op_threads=1, inter_op_threads=1)
    made = {
        **manifest,
        "model": {
            "file": artifact.file,
            "format": artifact.format,
            "sha256": artifact.sha256,
            "bytes": len(artifact.data),
        },
        "runtime": runtime,
        "files": {model_path: artifact.sha256, **files},
    }
    blobs[model_path] = artifact.data
    blobs[f"{MODEL_DIR}/{MANIFEST_FILE}"] = manifest_bytes(made)
    ziputil.write_zip(target, blobs=blobs)
    return target
