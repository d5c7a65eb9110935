"""Layer sizes per package, Lambda's size limits, and the report table.

Lambda counts the unzipped size of a function and all its layers against 250 MB (MiB, in fact:
262,144,000 bytes), and takes a zip of at most 50 MB (52,428,800 bytes) in a direct upload;
larger ones must go through S3. Sizes here are bytes; the report shows MiB, as AWS does.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from slpack.errors import SlpackError
from slpack.layer.install import Installed
from slpack.layer.trim import TrimResult

MIB = 1 << 20
UNZIPPED_LIMIT = 250 * MIB  # function + layers, unzipped
DIRECT_UPLOAD_LIMIT = 50 * MIB  # a zip uploaded in the API call itself


@dataclass(frozen=True)
class PackageSize:
    untrimmed: int
    unzipped: int
    zipped: int


def tree_sizes(root: Path, dists: Iterable[Installed]) -> dict[str, int]:
    """Bytes per distribution in a folder laid out like ``python/`` (before trimming)."""
    owner = {top: d.name for d in dists for top in d.top_level}
    out: dict[str, int] = {}
    for path in root.rglob("*"):
        if path.is_file():
            name = owner.get(path.relative_to(root).parts[0], "other")
            out[name] = out.get(name, 0) + path.stat().st_size
    return out


def package_sizes(
    zip_path: Path, dists: Iterable[Installed], untrimmed: dict[str, int]
) -> dict[str, PackageSize]:
    """Unzipped and zipped bytes per distribution, read from the zip itself."""
    dists = list(dists)
    owner = {top: d.name for d in dists for top in d.top_level}
    unzipped: dict[str, int] = {}
    zipped: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            name = owner.get(parts[1] if len(parts) > 2 else "", "other")
            unzipped[name] = unzipped.get(name, 0) + info.file_size
            zipped[name] = zipped.get(name, 0) + info.compress_size
    names = [d.name for d in dists] + (["other"] if "other" in unzipped else [])
    return {
        n: PackageSize(untrimmed.get(n, 0), unzipped.get(n, 0), zipped.get(n, 0)) for n in names
    }


def check_limits(layer_unzipped: int, layer_zipped: int, function_unzipped: int = 0) -> list[str]:
    """Raise when Lambda would refuse the function; return warnings for what needs another route."""
    total = layer_unzipped + function_unzipped
    if total > UNZIPPED_LIMIT:
        raise SlpackError(
            f"the layer ({mib(layer_unzipped)}) and the function ({mib(function_unzipped)}) "
            f"unzip to {mib(total)}, "
            f"over Lambda's {mib(UNZIPPED_LIMIT)} limit; trim the layer spec or ship a "
            "container image (--target image)."
        )
    warnings = []
    if layer_zipped > DIRECT_UPLOAD_LIMIT:
        warnings.append(
            f"the layer zip is {mib(layer_zipped)}, over the {mib(DIRECT_UPLOAD_LIMIT)} "
            "direct-upload limit: "
            "upload it to S3 and publish it from there (aws lambda publish-layer-version "
            "--content S3Bucket=...,S3Key=...)."
        )
    return warnings


def mib(n: int) -> str:
    """Bytes for people: MiB, as Lambda's limits are stated, or KiB below one MiB."""
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:.0f} KiB"


def size_table(title: str, sizes: dict[str, PackageSize], trimmed: TrimResult) -> Table:
    """Per package: installed, in the layer, zipped; then what each trim rule saved."""
    table = Table(title=title, title_justify="left")
    table.add_column("package")
    table.add_column("installed", justify="right")
    table.add_column("in layer", justify="right")
    table.add_column("zipped", justify="right")
    for name, size in sizes.items():
        table.add_row(name, mib(size.untrimmed), mib(size.unzipped), mib(size.zipped))
    total = PackageSize(
        *(sum(getattr(s, f) for s in sizes.values()) for f in ("untrimmed", "unzipped", "zipped"))
    )
    table.add_row(
        "total",
        mib(total.untrimmed),
        mib(total.unzipped),
        mib(total.zipped),
        style="bold",
        end_section=True,
    )
    for rule in sorted(trimmed.rules, key=lambda r: -r.bytes):
        if rule.files:
            cells = (f"trimmed: {rule.name}", f"-{mib(rule.bytes)}", f"{rule.files} files", "")
            table.add_row(*cells, style="dim")
    return table
