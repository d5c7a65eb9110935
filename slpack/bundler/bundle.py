"""Write the bundle folder: the model, slpack.json and a reproducible function.zip.

function.zip holds exactly what the function runs: the ``slpack_handler`` package at the root
and ``model/`` (the runtime's model file + the manifest) beside it. Entries are sorted and
timestamps fixed, and the manifest holds nothing that changes between two builds of the same
inputs, so the same inputs give a byte-identical zip, and a redeploy with nothing changed uploads
nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slpack import ziputil
from slpack.bundler.runtimes import ONNX_FILE
from slpack.resources import handler_package
from slpack_handler.contract import MANIFEST_FILE, MODEL_DIR, ManifestError
from slpack_handler.contract import read_manifest as read_contract_manifest

if TYPE_CHECKING:
    from slpack.bundler.runtimes import Artifact
    from slpack_handler.contract import Manifest, RuntimeEntry

MANIFEST = MANIFEST_FILE  # the bundle folder's manifest: the same file function.zip carries
MODEL = ONNX_FILE  # the verified ONNX graph in the bundle folder
FUNCTION_ZIP = "function.zip"
REQUEST = "request.json"  # an example request (the manifest's synthetic row), beside the bundle
REQUIREMENTS = "requirements.txt"  # sklearn runtime: the exact versions the function installs
REPORT = "build.json"  # what the build measured (runtime timings), beside the bundle


def manifest_bytes(manifest: Manifest | dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


def file_hashes(files: dict[str, Path]) -> dict[str, str]:
    """sha256 of each file by its path in function.zip: the manifest records all the bundle
    ships."""
    return {name: ziputil.sha256_file(path) for name, path in files.items()}


@contextmanager
def handler_files(python_version: str | None) -> Iterator[dict[str, Path]]:
    """The handler package's files by zip path, with bytecode for ``python_version`` when possible.

    A function's code is read-only on Lambda, so bytecode not shipped is compiled at every cold
    start (about 10 ms for the handler). It is compiled with an interpreter of the target version
    in unchecked-hash mode (no timestamps: reproducible), in a temporary copy that lives as long
    as the ``with`` block, never in the source tree.
    """
    from slpack.layer.bytecode import compile_files, compiler_for

    sources = ziputil.tree_entries(handler_package(), prefix="slpack_handler")
    python = compiler_for(python_version) if python_version else None
    if python is None:
        yield sources
        return
    with tempfile.TemporaryDirectory(prefix="slpack-handler-") as tmp:
        staging = Path(tmp)
        for name, path in sources.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, staging / name)
        compile_files(python, staging, [name for name in sources if name.endswith(".py")])
        yield ziputil.tree_entries(staging, bytecode=True)


def write_bundle(
    bundle_dir: Path,
    manifest: Manifest,
    artifact: Artifact,
    files: dict[str, Path],
    onnx_bytes: bytes | None = None,
) -> dict[str, Path]:
    """Write the bundle folder (``files``: the handler's, from :func:`handler_files`).

    The folder keeps the verified ONNX graph (when there is one) beside the runtime's own file;
    function.zip carries only what the function loads: the handler, ``model/<artifact>`` and the
    manifest. Returns the paths written.
    """
    if "slpack_handler/__init__.py" not in files:
        raise RuntimeError(
            f"the slpack_handler package is missing from {handler_package()}; reinstall slpack"
        )
    bundle_dir.mkdir(parents=True, exist_ok=True)
    data = manifest_bytes(manifest)
    written = {"manifest": bundle_dir / MANIFEST_FILE, "model": bundle_dir / artifact.file}
    written["manifest"].write_bytes(data)
    written["model"].write_bytes(artifact.data)
    written["request"] = bundle_dir / REQUEST
    example = {"instances": [manifest.get("example") or {}]}
    written["request"].write_text(json.dumps(example, indent=2) + "\n", encoding="utf-8")
    requirements = (manifest.get("runtime") or {}).get("requirements")
    if requirements:  # what the image installs, and what serve needs here
        from slpack.bundler.sklearn_runtime import requirements_txt

        written["requirements"] = bundle_dir / REQUIREMENTS
        written["requirements"].write_text(requirements_txt(requirements), encoding="utf-8")
    if onnx_bytes is not None:
        written["onnx"] = bundle_dir / ONNX_FILE
        if artifact.file != ONNX_FILE:
            written["onnx"].write_bytes(onnx_bytes)
    written["function_zip"] = bundle_dir / FUNCTION_ZIP
    ziputil.write_zip(
        written["function_zip"],
        files=files,
        blobs={f"{MODEL_DIR}/{artifact.file}": artifact.data, f"{MODEL_DIR}/{MANIFEST_FILE}": data},
    )
    return written


def read_manifest(bundle_dir: Path) -> Manifest:
    """Read a bundle's manifest (BUNDLE arguments of every command go through here)."""
    from slpack.errors import SlpackError

    path = bundle_dir / MANIFEST_FILE
    if not path.is_file():
        raise SlpackError(
            f"{bundle_dir} is not a bundle (no {MANIFEST_FILE}); run slpack build first."
        )
    try:
        return read_contract_manifest(str(path))
    except ManifestError as exc:
        raise SlpackError(f"{exc}.") from None


def write_report(
    bundle_dir: Path, runtime: RuntimeEntry, measured: dict[str, Any], detail: str
) -> Path:
    """build.json: the runtime choice with the timings behind it (not in function.zip: they
    change from run to run, the zip must not)."""
    path = bundle_dir / REPORT
    report = {"runtime": {**runtime, "detail": detail, "measured": measured}}
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path
