"""The scikit-learn stack the baseline needs, as a layer folder linked from this environment.

The set is what the distributions' own metadata says: scikit-learn (and pandas for pipelines
trained on DataFrames) and every ``Requires-Dist`` they pull in, recursively, for this
interpreter. The folder links their installed top-level packages, so the baseline runs isolated
from the rest of site-packages, as it would on a Lambda layer holding exactly that stack.
Its size leaves bytecode out (the smallest the baseline could ship); measuring its zipped size
means compressing some 250 MB, so the figure is cached per set of distribution versions.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from slpack.bench.sizes import Size, entries_of, size_of
from slpack.serve.sandbox import _closure, _top_level_entries


@dataclass(frozen=True)
class Stack:
    """Distributions (name -> version) and their installed top-level packages and modules."""

    versions: dict[str, str]
    tops: tuple[Path, ...]


def sklearn_stack(with_pandas: bool) -> Stack:
    dists: dict[str, metadata.Distribution] = {}
    for root in ("scikit-learn", "pandas") if with_pandas else ("scikit-learn",):
        dists.update((d.metadata["Name"].lower(), d) for d in _closure(root))
    tops = sorted({top for dist in dists.values() for top in _top_level_entries(dist)})
    return Stack({name: dists[name].version for name in sorted(dists)}, tuple(tops))


def link_stack(stack: Stack, dest: Path) -> Path:
    """A folder holding links to the stack's packages: the baseline's layer on ``sys.path``."""
    dest.mkdir(parents=True, exist_ok=True)
    for top in stack.tops:
        link = dest / top.name
        if not link.exists():
            link.symlink_to(top, target_is_directory=top.is_dir())
    return dest


def stack_size(stack: Stack) -> Size:
    """The stack's unzipped and zipped size, cached by interpreter and distribution versions."""
    tag = "-".join(f"{n}{v}" for n, v in stack.versions.items())
    key = f"py{sys.version_info.major}{sys.version_info.minor}-{sys.platform}-{tag}"
    cache = _cache_dir() / "stack-sizes.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}  # no cache yet, or a damaged one: measure again
    if key not in known:
        known[key] = size_of(entries_of(stack.tops)).to_json()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=2, sort_keys=True))
    return Size(**known[key])


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "slpack" / "bench"
