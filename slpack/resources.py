"""Locate the data folders (handlers/, templates/, layers/) in every install layout.

In the repository (and an editable install) they are top-level folders next to ``slpack/``;
a wheel carries them under ``slpack/_data/`` (see pyproject.toml). Callers never care which.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``handlers``, ``templates`` or ``layers``)."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"slpack data folder {name!r} is missing from this installation")


def handler_package() -> Path:
    """The ``slpack_handler`` package that goes into function.zip."""
    return data_dir("handlers") / "slpack_handler"
