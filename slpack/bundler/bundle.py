"""Write the bundle folder: model.onnx, slpack.json and a reproducible function.zip.

function.zip holds exactly what the function runs: the ``slpack_handler`` package at the root
and ``model/`` (model + manifest) beside it. Entries are sorted and timestamps fixed, and the
manifest holds nothing that changes between two builds of the same inputs, so the same inputs
give a byte-identical zip, and a redeploy with nothing changed uploads nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slpack import ziputil
from slpack.resources import handler_package

MANIFEST = "slpack.json"
MODEL = "model.onnx"
FUNCTION_ZIP = "function.zip"
MODEL_DIR_IN_ZIP = "model"


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
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
    bundle_dir: Path, model_bytes: bytes, manifest: dict[str, Any], files: dict[str, Path]
) -> dict[str, Path]:
    """Write the three files (``files``: the handler's, from :func:`handler_files`); return their
    paths."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    data = manifest_bytes(manifest)
    model_path = bundle_dir / MODEL
    manifest_path = bundle_dir / MANIFEST
    model_path.write_bytes(model_bytes)
    manifest_path.write_bytes(data)
    if "slpack_handler/__init__.py" not in files:
        raise RuntimeError(
            f"the slpack_handler package is missing from {handler_package()}; reinstall slpack"
        )
    zip_path = bundle_dir / FUNCTION_ZIP
    ziputil.write_zip(
        zip_path,
        files=files,
        blobs={f"{MODEL_DIR_IN_ZIP}/{MODEL}": model_bytes, f"{MODEL_DIR_IN_ZIP}/{MANIFEST}": data},
    )
    return {"model": model_path, "manifest": manifest_path, "function_zip": zip_path}


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Read a bundle's manifest (BUNDLE arguments of every command go through here)."""
    from slpack.errors import SlpackError

    path = bundle_dir / MANIFEST
    if not path.is_file():
        raise SlpackError(f"{bundle_dir} is not a bundle (no {MANIFEST}); run slpack build first.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SlpackError(
            f"{path} is not valid JSON; rebuild the bundle with slpack build."
        ) from None
