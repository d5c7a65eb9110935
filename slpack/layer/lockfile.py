"""Find and read the lock file that describes a layer zip.

``slpack layer --out DIR`` writes ``<stem>.lock.json`` next to the zip; the content-addressed
cache keeps ``lock.json`` beside it. Everything that takes a layer zip (build, render, deploy)
asks here instead of guessing names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slpack.errors import SlpackError


def find_lock(zip_path: Path) -> Path | None:
    """The lock file of ``zip_path``, or None when the zip has none."""
    candidates = [
        zip_path.with_suffix(".lock.json"),
        zip_path.with_name(zip_path.name + ".lock.json"),
    ]
    for lock in candidates:
        if lock.is_file():
            return lock
    shared = zip_path.with_name("lock.json")
    if shared.is_file() and read_lock(shared).get("file") == zip_path.name:
        return shared
    return None


def read_lock(lock: Path) -> dict[str, Any]:
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SlpackError(
            f"{lock} is not a readable layer lock; rebuild the layer with slpack layer."
        ) from None
    if not isinstance(data, dict):
        raise SlpackError(f"{lock} is not a layer lock; rebuild the layer with slpack layer.")
    return data


def lock_of(zip_path: Path) -> dict[str, Any]:
    """The lock of ``zip_path``; a clear error when it has none."""
    lock = find_lock(zip_path)
    if lock is None:
        raise SlpackError(
            f"the layer {zip_path.name} has no lock file next to it; rebuild it with slpack layer."
        )
    return read_lock(lock)
