"""Check a bundle and its layer against their own records before anything is shipped.

``slpack build`` records the sha256 of every file function.zip ships (``files`` in the manifest,
plus ``model.sha256``) and ``slpack layer`` the sha256 of the layer zip (its lock). A bundle that
no longer matches them was edited, corrupted or half-copied; shipped, it would move ``live`` to a
version that answers 503 on every request. So deploy checks them, with no AWS call made yet, and
names the first file that differs.

These hashes travel with the files they describe, so they catch accidents, not an attacker who
rewrites both; code signing (``--signing-profile``) is the answer to that (docs/deploy.md).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from slpack.bundler.bundle import FUNCTION_ZIP, MANIFEST
from slpack.errors import SlpackError
from slpack.layer.lockfile import find_lock, read_lock
from slpack.ziputil import sha256_file
from slpack_handler.contract import MODEL_DIR

_REBUILD = "rebuild the bundle with slpack build"


def verify_bundle(bundle_dir: Path, manifest: dict[str, Any]) -> None:
    """Refuse a function.zip whose files, model or manifest differ from what the build recorded."""
    zip_path = bundle_dir / FUNCTION_ZIP
    recorded = manifest.get("files")
    if not isinstance(recorded, dict) or not recorded:
        raise SlpackError(
            f"{bundle_dir / MANIFEST} records no file hashes, so {zip_path} cannot be checked; "
            f"{_REBUILD}."
        )
    model_file = str((manifest.get("model") or {}).get("file") or "")
    wanted = dict(recorded)  # by path in function.zip
    manifest_in_zip = f"{MODEL_DIR}/{MANIFEST}"
    try:
        with zipfile.ZipFile(zip_path) as zf:
            shipped = {
                info.filename: _sha256(zf, info.filename)
                for info in zf.infolist()
                if not info.is_dir()
            }
            inner_manifest = zf.read(manifest_in_zip) if manifest_in_zip in shipped else None
    except (OSError, zipfile.BadZipFile) as exc:
        raise SlpackError(f"{zip_path} cannot be read as a zip ({exc}); {_REBUILD}.") from None
    if inner_manifest is not None and inner_manifest != (bundle_dir / MANIFEST).read_bytes():
        raise SlpackError(
            f"{zip_path} ships a {manifest_in_zip} that differs from {bundle_dir / MANIFEST}; "
            f"{_REBUILD}."
        )
    shipped.pop(manifest_in_zip, None)
    _compare(zip_path, wanted, shipped)
    model_sha = (manifest.get("model") or {}).get("sha256")
    model_in_zip = f"{MODEL_DIR}/{model_file}"
    if shipped.get(model_in_zip) != model_sha:
        raise SlpackError(
            f"{zip_path}: {model_in_zip} has sha256 {shipped.get(model_in_zip)} but the "
            f"manifest's model.sha256 is {model_sha}; {_REBUILD}."
        )


def verify_layer(zip_path: Path) -> dict[str, Any]:
    """The layer zip's lock, once the zip is checked against it; refuse a zip without one."""
    lock_path = find_lock(zip_path)
    if lock_path is None:
        raise SlpackError(
            f"the layer {zip_path} has no lock file beside it ({zip_path.stem}.lock.json), so it "
            "cannot be checked; rebuild it with slpack layer or pass a layer version ARN."
        )
    lock = read_lock(lock_path)
    actual = sha256_file(zip_path)
    if actual != lock.get("sha256"):
        raise SlpackError(
            f"the layer {zip_path} has sha256 {actual} but its lock {lock_path.name} "
            f"records {lock.get('sha256')}; rebuild it with slpack layer."
        )
    return lock


def _sha256(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with zf.open(name) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _compare(zip_path: Path, wanted: dict[str, str], shipped: dict[str, str]) -> None:
    """Name the first file that is missing, extra or different."""
    for name in sorted(wanted.keys() | shipped.keys()):
        if name not in shipped:
            problem = "is missing"
        elif name not in wanted:
            problem = "is not in the manifest's files"
        elif shipped[name] != wanted[name]:
            problem = f"has sha256 {shipped[name]} but the manifest recorded {wanted[name]}"
        else:
            continue
        raise SlpackError(f"{zip_path}: {name} {problem}; {_REBUILD}.")
