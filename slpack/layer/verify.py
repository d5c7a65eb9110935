"""Check a staged layer against its target without running it: layout, wheel tags, native code.

This is what a foreign target (arm64 from an x86_64 machine, Python 3.12 from 3.11) gets instead
of the smoke test, and what every target gets before it: each distribution's wheel tags must be
ones the target accepts, each ELF file must be for the target's machine, need no newer glibc than
the target's OS has and find every library it links in the layer or the OS.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from packaging.tags import Tag

from slpack.errors import SlpackError
from slpack.layer.elf import SYSTEM_LIBRARIES, is_elf, read_elf
from slpack.layer.install import Installed
from slpack.layer.target import Target


def accepted_tags(target: Target) -> frozenset[Tag]:
    """The wheel tags a CPython of the target loads: cpXY or abi3 builds for its platforms, and pure
    wheels.

    A local target also loads ``linux_<machine>`` wheels built on this machine.
    """
    cp = f"cp{target.py_tag}"
    platforms = target.platform_tags() + ([f"linux_{target.machine}"] if target.local else [])
    tags = {Tag(cp, abi, plat) for plat in platforms for abi in (cp, "abi3", "none")}
    minor = int(target.python.split(".")[1])
    tags.update(Tag(f"cp3{m}", "abi3", plat) for m in range(2, minor) for plat in platforms)
    tags.update(Tag(py, "none", "any") for py in ("py3", f"py{target.py_tag}", cp))
    return frozenset(tags)


def check_tags(dists: Iterable[Installed], target: Target) -> None:
    """Refuse a distribution whose wheel the target cannot load, naming what it needs."""
    ok = accepted_tags(target)
    for dist in dists:
        if not dist.tag_objects() & ok:
            raise SlpackError(
                f"{dist.name} {dist.version} ({', '.join(dist.tags)}) cannot load on "
                f"{target.describe()}; "
                "resolve wheels for that target without --from-env, or pick a runtime that "
                "matches them."
            )


def check_tree(root: Path, spec_packages: Iterable[str], target: Target) -> list[str]:
    """Check the ``python/`` folder; return the problems found (an empty list is a pass)."""
    problems: list[str] = []
    for package in spec_packages:
        if not (root / package / "__init__.py").is_file():
            problems.append(f"python/{package}/__init__.py is missing")
        if not any(root.glob(f"{package}-*.dist-info/METADATA")):
            problems.append(
                f"the {package} dist-info metadata is missing (importlib.metadata would fail)"
            )
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]
    names = {p.name for p in files}
    elves = [(p, read_elf(p)) for p in files if is_elf(p)]
    names.update(info.soname for _p, info in elves if info.soname)
    suffix = f".cpython-{target.py_tag}-{target.machine}-linux-gnu.so"
    for path, info in elves:
        rel = path.relative_to(root).as_posix()
        if info.machine != target.machine:
            problems.append(f"{rel} is built for {info.machine}, not {target.machine}")
        if info.glibc > target.glibc:
            problems.append(
                f"{rel} needs GLIBC_{info.glibc[0]}.{info.glibc[1]}, {target.os_name} has "
                f"{target.glibc_text}"
            )
        missing = [n for n in info.needed if n not in names and n not in SYSTEM_LIBRARIES]
        if missing:
            problems.append(
                f"{rel} links {', '.join(missing)}, found neither in the layer nor in "
                f"{target.os_name}"
            )
        if ".cpython-" in path.name and not path.name.endswith(suffix):
            problems.append(
                f"{rel} is an extension module for another Python or machine (expected *{suffix})"
            )
    return problems
