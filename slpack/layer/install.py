"""Put distributions into a staging folder, the way Lambda will find them under ``/opt/python``.

Two sources: a wheel file (unpacked per the wheel spec, PEP 427: ``*.data/purelib`` and
``platlib`` go to the root, scripts and headers are not needed by an import) or a distribution
installed in this environment (its RECORD lists its files). Either way the result records what
was installed and the hash that pins it, for the lock file.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import dataclass
from email.parser import BytesParser
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from slpack.errors import SlpackError
from slpack.ziputil import sha256_file


@dataclass(frozen=True)
class Installed:
    """One distribution in the layer, as the lock file records it."""

    name: str
    version: str
    wheel: str  # the wheel file name (for an installed distribution: rebuilt from its WHEEL tags)
    sha256: str  # of the wheel file; for an installed distribution, of its RECORD file
    hashed: str  # "wheel" | "RECORD": what sha256 is the hash of
    tags: tuple[str, ...]
    top_level: tuple[
        str, ...
    ]  # top-level names it put in the layer (numpy, numpy.libs, numpy-2.4.6.dist-info)

    def tag_objects(self) -> frozenset[Tag]:
        return frozenset(t for text in self.tags for t in parse_tag(text))


def describe_wheel(wheel: Path) -> Installed:
    """What ``wheel`` would install, and its hash."""
    name, version, _build, tags = parse_wheel_filename(wheel.name)
    with zipfile.ZipFile(wheel) as zf:
        tops = {path.parts[0] for n in zf.namelist() if (path := _layer_path(wheel, n)) is not None}
    return Installed(
        name=str(name),
        version=str(version),
        wheel=wheel.name,
        sha256=sha256_file(wheel),
        hashed="wheel",
        tags=tuple(sorted(str(t) for t in tags)),
        top_level=tuple(sorted(tops)),
    )


def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Unpack ``wheel`` into ``dest`` as an install would, keeping executable bits."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            rel = _layer_path(wheel, info.filename)
            if rel is None or info.is_dir():
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            target.chmod(0o755 if (info.external_attr >> 16) & 0o111 else 0o644)


def _layer_path(wheel: Path, name: str) -> PurePosixPath | None:
    """Where a wheel member goes in the layer; None for members an import never needs."""
    dist, version = wheel.name.split("-")[:2]
    data_prefix = f"{dist}-{version}.data/"
    if name.startswith(data_prefix):
        scheme, _, name = name[len(data_prefix) :].partition("/")
        if scheme not in ("purelib", "platlib"):
            return None  # scripts, headers, data
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise SlpackError(f"wheel {wheel.name} has an unsafe path {name}; use another wheel.")
    return path if name and not name.endswith("/") else None


def installed_distribution(name: str) -> metadata.Distribution:
    """The distribution ``name`` in this environment, or a clear error."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise SlpackError(
            f"{name} is not installed in this environment; pip install {name} or drop --from-env."
        ) from None


def _installed_files(dist: metadata.Distribution) -> list[tuple[PurePosixPath, Path]]:
    """(path in the layer, path on disk) for each file the distribution's RECORD lists under
    site-packages."""
    out = []
    for entry in dist.files or ():
        rel = PurePosixPath(entry.as_posix())
        if rel.is_absolute() or ".." in rel.parts or "__pycache__" in rel.parts:
            # console scripts live outside site-packages; bytecode is rebuilt by the runtime
            continue
        source = Path(str(entry.locate()))
        if source.is_file():
            out.append((rel, source))
    return out


def describe_installed(dist: metadata.Distribution) -> Installed:
    """An installed distribution as the lock records it: its WHEEL tags and the hash of its
    RECORD."""
    files = _installed_files(dist)
    record = next(
        (
            src
            for rel, src in files
            if rel.name == "RECORD" and rel.parent.name.endswith(".dist-info")
        ),
        None,
    )
    if record is None:
        raise SlpackError(
            f"{dist.metadata['Name']} has no RECORD file; reinstall it with pip and try again."
        )
    wheel_meta = BytesParser().parsebytes((record.parent / "WHEEL").read_bytes())
    tags = sorted(wheel_meta.get_all("Tag") or [])
    name = str(canonicalize_name(dist.metadata["Name"]))
    return Installed(
        name=name,
        version=dist.version,
        wheel=f"{name.replace('-', '_')}-{dist.version}-{_compress_tags(tags)}.whl",
        sha256=hashlib.sha256(record.read_bytes()).hexdigest(),
        hashed="RECORD",
        tags=tuple(tags),
        top_level=tuple(sorted({rel.parts[0] for rel, _src in files})),
    )


def copy_installed(dist: metadata.Distribution, dest: Path) -> None:
    """Copy an installed distribution's files (per its RECORD) into ``dest``."""
    for rel, source in _installed_files(dist):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _compress_tags(tags: list[str]) -> str:
    """``cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64`` from the WHEEL file's Tag
    lines."""
    parts = [t.split("-") for t in tags]
    if not parts:
        return "py3-none-any"
    pick = [sorted({p[i] for p in parts}) for i in range(3)]
    return "-".join(".".join(values) for values in pick)
