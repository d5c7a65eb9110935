"""Deployment size: unzipped bytes (what Lambda's 250 MB limit counts) and zipped bytes.

slpack's artifacts (function.zip, the layer zip) are measured as shipped, bytecode included where
slpack compiled it. Trees that exist only as folders (the baseline's function and its
scikit-learn stack, a layer given as a folder) are zipped here with
:func:`slpack.ziputil.write_zip`,
the writer slpack's own zips come from, so both sides are compressed alike.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from slpack import ziputil

ZIP_LEVEL = 6  # zip's and most packagers' default; level 9 saves ~1% here at three times the time


@dataclass(frozen=True)
class Size:
    unzipped: int
    zipped: int

    def __add__(self, other: Size) -> Size:
        return Size(self.unzipped + other.unzipped, self.zipped + other.zipped)

    def to_json(self) -> dict[str, int]:
        return {"unzipped": self.unzipped, "zipped": self.zipped}


def entries_of(roots: Iterable[Path]) -> dict[str, Path]:
    """Archive names to files for folders and single files, each under its own name."""
    entries: dict[str, Path] = {}
    for root in roots:
        if root.is_dir():
            entries.update(ziputil.tree_entries(root, prefix=root.name))
        elif root.suffix != ".pyc":
            entries[root.name] = root
    return entries


def size_of(entries: Mapping[str, Path]) -> Size:
    """Unzipped and zipped bytes of these files."""
    unzipped = sum(path.stat().st_size for path in entries.values())
    with tempfile.TemporaryDirectory(prefix="slpack-bench-size-") as scratch:
        archive = Path(scratch) / "tree.zip"
        ziputil.write_zip(archive, files=entries, compresslevel=ZIP_LEVEL)
        zipped = archive.stat().st_size
    return Size(unzipped, zipped)


def tree_size(root: Path, bytecode: bool = False) -> Size:
    """Size of the files under ``root``; ``__pycache__`` only with ``bytecode``."""
    return size_of(ziputil.tree_entries(root, bytecode=bytecode))


def archive_size(path: Path) -> Size:
    """Size of a zip as it ships."""
    return Size(ziputil.unzipped_size(path), path.stat().st_size)
