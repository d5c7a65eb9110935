"""Build a layer: resolve, install, trim, verify, zip, smoke-test, lock, cache.

The plan is fixed before any heavy work: the target, the spec and the exact distributions (wheel
or RECORD hashes) make a content hash, and that hash names the cache entry. A repeated build
with the same inputs finds the entry and is instant; a changed spec rule, wheel or target is a
different hash and can never be served a stale zip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import slpack
from slpack.errors import SlpackError
from slpack.layer import install
from slpack.layer.bytecode import compile_layer
from slpack.layer.install import Installed
from slpack.layer.resolve import Finder, resolve_wheels
from slpack.layer.sizes import check_limits, package_sizes, tree_sizes
from slpack.layer.smoke import interpreter_for, smoke_test
from slpack.layer.spec import DEFAULT_SPEC, LayerSpec, load_spec
from slpack.layer.target import DEFAULT_ARCH, DEFAULT_PYTHON, Target, host_target, lambda_target
from slpack.layer.trim import trim
from slpack.layer.verify import check_tags, check_tree
from slpack.ziputil import sha256_file, tree_entries, write_zip

LOCK_FORMAT = 2  # 2: layers carry precompiled bytecode
LOCK_SUFFIX = ".lock.json"


@dataclass(frozen=True)
class LayerResult:
    """A built layer: the zip, its lock (the record of what is in it), and what to tell the user."""

    zip_path: Path
    lock_path: Path
    lock: dict[str, Any]
    cached: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return str(self.lock["sha256"])

    @property
    def unzipped(self) -> int:
        return int(self.lock["sizes"]["unzipped"])

    @property
    def zipped(self) -> int:
        return int(self.lock["sizes"]["zipped"])


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "slpack" / "layers"


def choose_target(python: str | None, arch: str | None, from_env: bool) -> Target:
    """``--from-env`` with no --python/--arch means this machine; anything else is a Lambda
    runtime."""
    if from_env and python is None and arch is None:
        return host_target()
    return lambda_target(python or DEFAULT_PYTHON, arch or DEFAULT_ARCH)


def build_layer(
    python: str | None = None,
    arch: str | None = None,
    *,
    from_env: bool = False,
    wheelhouse: Path | None = None,
    out: Path | None = None,
    spec: str | Path = DEFAULT_SPEC,
    cache_dir: Path | None = None,
    function_unzipped: int = 0,
    smoke_python: str | None = None,
    target: Target | None = None,
    on_step: Callable[[str], None] | None = None,
) -> LayerResult:
    """Build (or fetch from the cache) the layer for a target and copy it to ``out``.

    ``from_env`` copies this environment's installed packages; with neither ``python`` nor
    ``arch`` the target is this machine (a layer for ``slpack serve`` and ``bench``). Otherwise
    wheels come from ``wheelhouse`` or the package index. ``function_unzipped`` is the function's
    own unzipped size, checked with the layer against Lambda's 250 MB limit. ``smoke_python``
    is the interpreter for the smoke test (default: one of the target's version found here).
    ``target`` replaces ``python`` and ``arch`` for callers that have one (``host_target()``
    with a wheelhouse, say). Without ``out`` the result points into the cache.
    """
    step = on_step or (lambda _message: None)
    if from_env and wheelhouse is not None:
        raise SlpackError(
            "--from-env and --wheelhouse are two different sources; pass one of them."
        )
    if target is not None and (python or arch):
        raise SlpackError("pass either a target or --python/--arch, not both.")
    layer_spec = load_spec(spec)
    target = target or choose_target(python, arch, from_env)
    cache = (cache_dir or default_cache_dir()).expanduser()
    cache.mkdir(parents=True, exist_ok=True)

    step(f"resolving {', '.join(layer_spec.packages)} for {target.describe()}")
    if from_env:
        sources = _environment_sources(layer_spec, target)
    else:
        wheels = resolve_wheels(
            layer_spec, target, Finder(wheelhouse), cache / "wheels" / _target_key(target)
        )
        sources = [(install.describe_wheel(w), w) for w in wheels]  # type: ignore[misc]
    dists = [d for d, _src in sources]
    key = _cache_key(layer_spec, target, dists)
    entry = cache / key
    python = interpreter_for(target, smoke_python)
    cached = (entry / "lock.json").is_file()
    if not cached:
        _build_entry(entry, layer_spec, target, sources, python, step)
    lock = json.loads((entry / "lock.json").read_text(encoding="utf-8"))
    if (
        cached and python and not lock["smoke"]["ran"]
    ):  # built where no interpreter was found; one is here now
        step("smoke-testing the layer in an isolated interpreter")
        lock["smoke"] = smoke_test(entry / lock["file"], target, python).to_json()
        _write_lock(entry / "lock.json", lock)
    zip_path, lock_path = entry / lock["file"], entry / "lock.json"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        zip_path, lock_path = _publish(zip_path, lock, out)
    warnings = check_limits(lock["sizes"]["unzipped"], lock["sizes"]["zipped"], function_unzipped)
    if not lock.get("bytecode"):
        warnings.append(
            f"no python{target.python} here to precompile bytecode, so every cold start "
            "compiles numpy and "
            f"onnxruntime (a few hundred ms); build the layer where python{target.python} "
            "is on PATH"
        )
    if target.local:
        warnings += _lambda_fit(target, dists)
    return LayerResult(
        zip_path=zip_path, lock_path=lock_path, lock=lock, cached=cached, warnings=warnings
    )


def _environment_sources(
    spec: LayerSpec, target: Target
) -> list[tuple[Installed, metadata.Distribution]]:
    sources = []
    for name, requirements in spec.requirements_for(target).items():
        dist = install.installed_distribution(name)
        for req in requirements:
            if not req.specifier.contains(dist.version, prereleases=True):
                raise SlpackError(
                    f"the installed {name} {dist.version} does not satisfy {req}; upgrade it or "
                    "drop --from-env."
                )
        sources.append((install.describe_installed(dist), dist))
    check_tags([d for d, _src in sources], target)
    return sources


def _target_key(target: Target) -> str:
    return f"{target.runtime}-{target.arch}-glibc{target.glibc_text}"


def _cache_key(spec: LayerSpec, target: Target, dists: list[Installed]) -> str:
    plan = {
        "lock_format": LOCK_FORMAT,
        "slpack": slpack.__version__,
        "spec": spec.sha256,
        "target": target.to_json(),
        "packages": sorted((d.name, d.version, d.hashed, d.sha256) for d in dists),
    }
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:32]


def _build_entry(
    entry: Path,
    spec: LayerSpec,
    target: Target,
    sources: list[tuple[Installed, Any]],
    python: str | None,
    step: Callable[[str], None],
) -> None:
    """Build into a temp folder beside ``entry`` and move it into place, so readers never see half
    an entry."""
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=entry.parent))
    try:
        root = work / "stage" / "python"
        root.mkdir(parents=True)
        step("installing " + ", ".join(f"{d.name} {d.version}" for d, _src in sources))
        for _dist, source in sources:
            if isinstance(source, Path):
                install.unpack_wheel(source, root)
            else:
                install.copy_installed(source, root)
        dists = [d for d, _src in sources]
        untrimmed = tree_sizes(root, dists)
        step(f"trimming with spec {spec.name}")
        trimmed = trim(root, spec)
        problems = check_tree(root, spec.packages, target)
        if problems:
            raise SlpackError(
                f"the layer does not fit {target.describe()}: {'; '.join(problems[:3])}."
            )
        versions = {d.name: d.version for d in dists}
        zip_path = work / "out" / spec.file_name(versions, target)
        if (
            target.local
        ):  # never mistaken for a layer built for the Lambda runtime of the same Python
            zip_path = zip_path.with_name(f"{zip_path.stem}-local.zip")
        step("precompiling the modules a request imports")
        bytecode = compile_layer(root, target)
        step(f"writing {zip_path.name}")
        sha = write_zip(zip_path, tree_entries(root.parent, bytecode=True))
        step("smoke-testing the layer in an isolated interpreter")
        smoke = smoke_test(zip_path, target, python)
        sizes = package_sizes(zip_path, dists, untrimmed)
        lock = {
            "format": LOCK_FORMAT,
            "file": zip_path.name,
            "sha256": sha,
            "python": target.python,
            "arch": target.arch,
            "runtime": target.runtime,
            "target": target.to_json(),
            "spec": {"name": spec.name, "sha256": spec.sha256},
            "source": "environment" if dists[0].hashed == "RECORD" else "wheels",
            "packages": [
                {
                    "name": d.name,
                    "version": d.version,
                    "wheel": d.wheel,
                    "sha256": d.sha256,
                    "hash_of": d.hashed,
                    "tags": list(d.tags),
                }
                for d in dists
            ],
            "sizes": {
                "unzipped": sum(s.unzipped for s in sizes.values()),
                "zipped": zip_path.stat().st_size,
                "untrimmed": sum(untrimmed.values()),
                "packages": {
                    n: {"installed": s.untrimmed, "unzipped": s.unzipped, "zipped": s.zipped}
                    for n, s in sizes.items()
                },
            },
            "trim": [
                {"name": r.name, "why": r.why, "files": r.files, "bytes": r.bytes}
                for r in trimmed.rules
            ],
            "removed": trimmed.removed,
            "smoke": smoke.to_json(),
            "bytecode": bytecode,
            "slpack": slpack.__version__,
        }
        _write_lock(work / "out" / "lock.json", lock)
        shutil.rmtree(work / "stage")
        try:
            os.rename(work / "out", entry)
        except OSError:
            if not (entry / "lock.json").is_file():  # not a concurrent build that finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _publish(zip_path: Path, lock: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Copy the zip and its lock to ``out`` (``NAME.zip`` and ``NAME.lock.json``), skipping
    identical files."""
    dest = out / zip_path.name
    if not dest.is_file() or sha256_file(dest) != lock["sha256"]:
        tmp = dest.with_suffix(".zip.tmp")
        shutil.copyfile(zip_path, tmp)
        os.replace(tmp, dest)
    lock_dest = out / (zip_path.stem + LOCK_SUFFIX)
    _write_lock(lock_dest, lock)
    return dest, lock_dest


def _write_lock(path: Path, lock: dict[str, Any]) -> None:
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _lambda_fit(target: Target, dists: list[Installed]) -> list[str]:
    """For a local layer: say whether Lambda's runtime of the same Python could load it too."""
    try:
        runtime = lambda_target(target.python, target.arch)
        check_tags(dists, runtime)
    except SlpackError as exc:
        return [f"this layer is for this machine only: {exc}"]
    return []
