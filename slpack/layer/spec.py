"""Layer specs: the declarative list of what a layer holds and what is trimmed from it
(``layers/*.yaml``).

Trimming is data, not code paths: each drop rule carries the reason it is safe, the size report
shows what each rule saved, and the spec's hash is part of the cache key and the lock file, so a
changed rule can never hide behind a cached zip.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from slpack.errors import SlpackError
from slpack.layer.target import Target
from slpack.resources import data_dir

DEFAULT_SPEC = "onnxruntime-numpy"


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``*`` and ``?`` stay within one folder, ``**/`` spans any number of
    them."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, patterns: tuple[str, ...]) -> bool:
    """Does the posix ``path`` match any of ``patterns``?"""
    return any(glob_regex(p).match(path) for p in patterns)


@dataclass(frozen=True)
class DropRule:
    name: str  # what the size report shows
    why: str  # why dropping it is safe
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Constraint:
    """An extra requirement for some targets, with the reason (a known-bad release, say)."""

    requirement: Requirement
    reason: str
    arch: str | None = None
    python: str | None = None

    def applies_to(self, target: Target) -> bool:
        return (self.arch in (None, target.arch)) and (self.python in (None, target.python))


@dataclass(frozen=True)
class LayerSpec:
    name: str
    file: str  # the zip's name, a format string over package versions, {py} and {arch}
    packages: dict[str, Requirement]  # distribution name -> requirement, in spec order
    skip_dependencies: dict[str, str]
    constraints: tuple[Constraint, ...]
    drop: tuple[DropRule, ...]
    drop_unlinked: tuple[str, ...]
    keep: tuple[str, ...]
    sha256: str  # of the spec file's bytes

    def requirements_for(self, target: Target) -> dict[str, list[Requirement]]:
        """Each package's requirements for ``target``: the spec's own plus the constraints that
        apply."""
        out = {name: [req] for name, req in self.packages.items()}
        for constraint in self.constraints:
            if constraint.applies_to(target) and constraint.requirement.name in out:
                out[constraint.requirement.name].append(constraint.requirement)
        return out

    def reasons_for(self, target: Target) -> list[str]:
        return [c.reason for c in self.constraints if c.applies_to(target)]

    def file_name(self, versions: dict[str, str], target: Target) -> str:
        """The zip's name for these package versions (``ort-1.32.0-np2.4.6-py312-x86_64.zip``)."""
        return self.file.format(py=target.py_tag, arch=target.arch, **versions)


def spec_path(name_or_path: str | Path = DEFAULT_SPEC) -> Path:
    """A spec by name (``onnxruntime-numpy``, from the shipped ``layers/``) or by file path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise SlpackError(
                f"layer spec {candidate} does not exist; pass a YAML file or a name from layers/."
            )
        return candidate
    shipped = data_dir("layers") / f"{name_or_path}.yaml"
    if not shipped.is_file():
        known = ", ".join(sorted(p.stem for p in data_dir("layers").glob("*.yaml")))
        raise SlpackError(f"there is no layer spec named {name_or_path}; use one of: {known}.")
    return shipped


def load_spec(name_or_path: str | Path = DEFAULT_SPEC) -> LayerSpec:
    """Read and check a spec; a malformed one is the user's to fix, so it is a one-line error."""
    path = spec_path(name_or_path)
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
        return _parse(data, hashlib.sha256(raw).hexdigest())
    except (yaml.YAMLError, KeyError, TypeError, ValueError, InvalidRequirement) as exc:
        raise SlpackError(
            f"layer spec {path} is malformed ({exc}); fix it or use the shipped one."
        ) from None


def _parse(data: dict[str, Any], sha256: str) -> LayerSpec:
    packages = {}
    for name, requirement in data["packages"].items():
        req = Requirement(str(requirement))
        if req.name != name:
            raise ValueError(f"package {name} has requirement {requirement}")
        packages[name] = req
    return LayerSpec(
        name=str(data["name"]),
        file=str(data["file"]),
        packages=packages,
        skip_dependencies={
            str(k): str(v) for k, v in (data.get("skip_dependencies") or {}).items()
        },
        constraints=tuple(
            Constraint(
                Requirement(c["requirement"]),
                " ".join(str(c["reason"]).split()),
                c.get("arch"),
                c.get("python"),
            )
            for c in data.get("constraints") or ()
        ),
        drop=tuple(
            DropRule(str(r["name"]), str(r["why"]), tuple(str(p) for p in r["paths"]))
            for r in data.get("drop") or ()
        ),
        drop_unlinked=tuple(str(p) for p in data.get("drop_unlinked") or ()),
        keep=tuple(str(p) for p in data.get("keep") or ()),
        sha256=sha256,
    )
