"""What a layer is built for: a Python version, a CPU architecture and the C library under them.

A wheel's platform tag says the oldest glibc it needs (``manylinux_2_28`` means 2.28); a Lambda
runtime's operating system decides the glibc it has. Picking wheels from these facts, rather than
from the build machine, is what keeps ``GLIBC_2.27 not found`` out of a deployed function.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from slpack.errors import SlpackError

ARCHES = ("x86_64", "arm64")
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
_ARCH_OF_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Runtime:
    """One Lambda Python runtime: the OS image it runs on and that image's glibc."""

    python: str
    os_name: str
    glibc: tuple[int, int]


# Lambda's Python runtimes (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html): 3.9 to 3.11
# run on Amazon Linux 2 (glibc 2.26), 3.12 and later on Amazon Linux 2023 (glibc 2.34).
LAMBDA_RUNTIMES: dict[str, Runtime] = {
    r.python: r
    for r in (
        Runtime("3.9", "Amazon Linux 2", (2, 26)),
        Runtime("3.10", "Amazon Linux 2", (2, 26)),
        Runtime("3.11", "Amazon Linux 2", (2, 26)),
        Runtime("3.12", "Amazon Linux 2023", (2, 34)),
        Runtime("3.13", "Amazon Linux 2023", (2, 34)),
        Runtime("3.14", "Amazon Linux 2023", (2, 34)),
    )
}
DEFAULT_PYTHON = "3.12"
DEFAULT_ARCH = "x86_64"

# The legacy manylinux names stand for glibc versions; pip matches names, not versions, so a
# target that accepts glibc 2.17 must list manylinux2014 as well as manylinux_2_17.
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_ARCHES = {
    "manylinux2014": ("x86_64", "aarch64"),
    "manylinux2010": ("x86_64",),
    "manylinux1": ("x86_64",),
}


@dataclass(frozen=True)
class Target:
    """A Python version on an architecture with a given glibc.

    ``runtime`` names the Lambda runtime (``python3.12``) or, for a layer meant for this machine
    only (``slpack serve`` and ``bench``), ``local``.
    """

    python: str  # "3.12"
    arch: str  # "x86_64" | "arm64"
    glibc: tuple[int, int]
    os_name: str
    local: bool = False

    @property
    def runtime(self) -> str:
        return "local" if self.local else f"python{self.python}"

    @property
    def machine(self) -> str:
        """The machine name in wheel tags and ``uname -m`` (``aarch64`` for arm64)."""
        return _MACHINE[self.arch]

    @property
    def py_tag(self) -> str:
        """``312`` for Python 3.12, as in ``cp312`` and the layer's file name."""
        return self.python.replace(".", "")

    @property
    def glibc_text(self) -> str:
        return f"{self.glibc[0]}.{self.glibc[1]}"

    def platform_tags(self) -> list[str]:
        """Every manylinux platform tag this target can load, newest first (for ``pip
        --platform``)."""
        tags: list[str] = []
        for minor in range(self.glibc[1], 4, -1):
            tags.append(f"manylinux_2_{minor}_{self.machine}")
            legacy = _LEGACY_MANYLINUX.get((2, minor))
            if legacy and self.machine in _LEGACY_ARCHES[legacy]:
                tags.append(f"{legacy}_{self.machine}")
        return tags

    def describe(self) -> str:
        """``python3.12 on x86_64 (Amazon Linux 2023, glibc 2.34)``: what error messages name."""
        return (
            f"{self.runtime} on {self.arch} ({self.os_name}, glibc {self.glibc_text}, "
            f"Python {self.python})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "runtime": self.runtime,
            "python": self.python,
            "arch": self.arch,
            "glibc": self.glibc_text,
            "os": self.os_name,
            "platforms": self.platform_tags(),
        }


def lambda_target(python: str, arch: str) -> Target:
    """The target for Lambda's ``python<python>`` runtime on ``arch``; a clear error when there is
    none."""
    if arch not in ARCHES:
        raise SlpackError(
            f"--arch {arch} is not a Lambda architecture; use one of {', '.join(ARCHES)}."
        )
    runtime = LAMBDA_RUNTIMES.get(python)
    if runtime is None:
        known = ", ".join(LAMBDA_RUNTIMES)
        raise SlpackError(
            f"Lambda has no python{python} runtime; use --python with one of {known}."
        )
    return Target(python=python, arch=arch, glibc=runtime.glibc, os_name=runtime.os_name)


def host_target() -> Target:
    """This interpreter on this machine: the target of a layer for local emulation."""
    arch = _ARCH_OF_MACHINE.get(platform.machine().lower())
    libc, version = platform.libc_ver()
    if sys.platform != "linux" or arch is None or libc != "glibc":
        raise SlpackError(
            "a local layer needs Linux with glibc on x86_64 or aarch64; "
            "build for a Lambda runtime with --python and --arch instead."
        )
    major, minor = (int(p) for p in version.split(".")[:2])
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Target(
        python=python, arch=arch, glibc=(major, minor), os_name="this machine", local=True
    )


def host_can_run(target: Target) -> bool:
    """Can this machine load the target's binaries (same architecture, at least its glibc)?"""
    try:
        host = host_target()
    except SlpackError:
        return False
    return host.arch == target.arch and host.glibc >= target.glibc
