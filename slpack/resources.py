"""Locate what ships beside the code: the runtime package and the data folders.

``slpack_handler`` is an installed package of its own (handlers/ in the repository): the build
tool imports its contract module, and every bundle copies its files into function.zip.
``templates/`` and ``layers/`` are data: top-level folders in the repository (and an editable
install), under ``slpack/_data/`` in a wheel (see pyproject.toml). Callers never care which.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the data folder ``name`` (``templates`` or ``layers``)."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"slpack data folder {name!r} is missing from this installation")


@cache
def handler_package() -> Path:
    """The folder of the installed ``slpack_handler`` package, the runtime function.zip ships.

    Found without importing it: its ``__init__`` may load a model when SLPACK_EAGER is set.
    """
    spec = importlib.util.find_spec("slpack_handler")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the slpack_handler package is not installed; reinstall slpack")
    return Path(next(iter(spec.submodule_search_locations))).resolve()
