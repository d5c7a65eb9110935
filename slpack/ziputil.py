"""Reproducible zip archives.

function.zip and layer zips must be byte-identical for identical inputs, so that content hashes
name S3 keys and cache entries and a redeploy with nothing changed uploads nothing. Entries are
written in sorted order with a fixed timestamp and fixed permissions; nothing from the build
machine (mtime, uid, umask) leaks into the archive.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# 1980-01-01 is the earliest time a zip entry can carry; any fixed value would do.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_EXEC_MODE = 0o100755 << 16


def _info(arcname: str, executable: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so external_attr permissions are honoured on extraction
    info.external_attr = _EXEC_MODE if executable else _FILE_MODE
    return info


def tree_entries(
    root: Path, prefix: str = "", skip: Iterable[str] = (), bytecode: bool = False
) -> dict[str, Path]:
    """Map archive names to files for every file under ``root``.

    ``skip`` holds glob patterns matched against the path relative to ``root``. Bytecode
    (``__pycache__``, ``.pyc``) is left out unless ``bytecode`` is set: only a layer built for a
    known Python version ships bytecode it compiled on purpose (see slpack.layer.bytecode).
    """
    patterns = tuple(skip) if bytecode else (*skip, "**/__pycache__/*", "*.pyc")
    entries: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if any(rel.match(p) for p in patterns) or (not bytecode and "__pycache__" in rel.parts):
            continue
        entries[(Path(prefix) / rel).as_posix() if prefix else rel.as_posix()] = path
    return entries


def write_zip(
    target: Path,
    files: Mapping[str, Path] | None = None,
    blobs: Mapping[str, bytes] | None = None,
    compresslevel: int = 9,
) -> str:
    """Write ``target`` from files on disk and in-memory blobs; return its sha256.

    Archive names from both mappings are merged and written in sorted order.
    """
    items: dict[str, Path | bytes] = {}
    items.update(files or {})
    for name, data in (blobs or {}).items():
        if name in items:
            raise ValueError(f"duplicate archive entry {name!r}")
        items[name] = data
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    with zipfile.ZipFile(
        tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    ) as zf:
        for name in sorted(items):
            item = items[name]
            if isinstance(item, Path):
                data = item.read_bytes()
                executable = os.access(item, os.X_OK)
            else:
                data, executable = item, False
            zf.writestr(_info(name, executable), data)
    os.replace(tmp, target)
    return sha256_file(target)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large layers do not sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def unzipped_size(path: Path) -> int:
    """Total uncompressed size of an archive's entries (what Lambda counts against 250 MB)."""
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())
