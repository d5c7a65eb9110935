"""Find the wheels for a target with pip, from the package index or a local wheelhouse.

pip already knows how to match wheel tags against a platform it is not running on
(``--platform``, ``--python-version``, ``--implementation``, ``--only-binary``), so the layer
asks it rather than re-implementing the resolver. Dependencies are not followed (``--no-deps``):
the spec lists exactly what goes in. When nothing fits, the error says which versions or
runtimes would, found the same way.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from slpack.errors import SlpackError
from slpack.layer.spec import LayerSpec
from slpack.layer.target import ARCHES, LAMBDA_RUNTIMES, Target, lambda_target

_AVAILABLE = re.compile(r"^Available versions:\s*(.*)$", re.MULTILINE)
_SAVED = re.compile(r"^\s*(?:Saved|File was already downloaded) (.+\.whl)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Finder:
    """Where pip looks: the configured index (``wheelhouse=None``) or only a local folder."""

    wheelhouse: Path | None = None

    def options(self, target: Target) -> list[str]:
        opts = ["--only-binary=:all:", "--implementation", "cp", "--python-version", target.python]
        for tag in target.platform_tags():
            opts += ["--platform", tag]
        if self.wheelhouse is not None:
            # --isolated: the user's pip config (find-links, extra indexes) must not leak into an
            # offline resolution that is meant to see this folder only.
            opts = ["--isolated", "--no-index", "--find-links", str(self.wheelhouse), *opts]
        return opts

    @property
    def where(self) -> str:
        return f"the wheelhouse {self.wheelhouse}" if self.wheelhouse else "the package index"

    def versions(self, package: str, target: Target) -> list[Version]:
        """Every version of ``package`` with a wheel for ``target``, newest first."""
        proc = _pip(["index", "versions", package, *self.options(target)])
        found = _AVAILABLE.search(proc.stdout)
        if proc.returncode != 0 or not found:
            return []
        return sorted((Version(v.strip()) for v in found[1].split(",") if v.strip()), reverse=True)

    def download(
        self, requirements: Sequence[str], target: Target, dest: Path
    ) -> subprocess.CompletedProcess[str]:
        dest.mkdir(parents=True, exist_ok=True)
        return _pip(
            ["download", "--no-deps", "--dest", str(dest), *self.options(target), *requirements]
        )


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )


def combined(requirements: Sequence[Requirement]) -> str:
    """One pip requirement from several on the same package (``onnxruntime>=1.17,>=1.26.0``)."""
    spec = SpecifierSet()
    for req in requirements:
        spec &= req.specifier
    return f"{requirements[0].name}{spec}"


def resolve_wheels(spec: LayerSpec, target: Target, finder: Finder, dest: Path) -> list[Path]:
    """Download (or copy from the wheelhouse) one wheel per spec package for ``target`` into
    ``dest``."""
    wheels = []
    for name, reqs in spec.requirements_for(target).items():
        proc = finder.download([combined(reqs)], target, dest)
        if proc.returncode != 0:
            if (
                "No matching distribution" in proc.stderr
                or "Could not find a version" in proc.stderr
            ):
                raise SlpackError(explain_missing(spec, name, target, finder))
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            raise SlpackError(
                f"pip could not download {name} from {finder.where} ({tail[0]}); check the "
                "network or use --wheelhouse."
            )
        wheels.append(_chosen_wheel(proc.stdout, name, dest))
    return wheels


def _chosen_wheel(pip_output: str, name: str, dest: Path) -> Path:
    """The wheel pip picked in this run (``dest`` may hold others from earlier runs)."""
    for match in _SAVED.finditer(pip_output):
        wheel = dest / Path(match[1].strip()).name
        if (
            canonicalize_name(parse_wheel_filename(wheel.name)[0]) == canonicalize_name(name)
            and wheel.is_file()
        ):
            return wheel
    raise SlpackError(f"pip reported no {name} wheel in {dest}; delete that folder and try again.")


def explain_missing(spec: LayerSpec, package: str, target: Target, finder: Finder) -> str:
    """One sentence: no wheel for this target, and the versions or runtimes that do have one."""
    reqs = spec.requirements_for(target)[package]
    wanted = combined(reqs)
    here = finder.versions(package, target)
    why = "; ".join(spec.reasons_for(target))
    if here:
        usable = f"{package} wheels for it stop at {here[0]}, which does not satisfy {wanted}"
        if why:
            usable += f" ({why})"
    else:
        usable = f"{finder.where} has no {package} wheel for it at all"
    working: dict[str, list[str]] = {}
    for arch in sorted(
        ARCHES, key=lambda a: a != target.arch
    ):  # the target's own architecture first
        for python in LAMBDA_RUNTIMES:
            other = lambda_target(python, arch)
            if other == target:
                continue
            ok = SpecifierSet(
                ",".join(str(r.specifier) for r in spec.requirements_for(other)[package])
            )
            best = next((v for v in finder.versions(package, other) if v in ok), None)
            if best is not None:
                working.setdefault(f"{arch} (newest {package} {best})", []).append(other.runtime)
    if working:
        alternatives = "it works on " + "; ".join(
            f"{', '.join(runtimes)} on {where}" for where, runtimes in working.items()
        )
    else:
        alternatives = f"no Lambda runtime has a wheel of {package} in {finder.where}"
    return f"no {package} wheel fits {target.describe()}: {usable}; {alternatives}."
