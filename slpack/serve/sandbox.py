"""The file system a local execution environment sees: /var/task, /opt and /var/runtime.

Lambda puts the unpacked function.zip in ``/var/task``, each layer's ``python/`` folder on
``sys.path`` (``/opt/python``), and the runtime client in ``/var/runtime``. Locally those are
folders under a scratch directory: the bundle's function.zip unpacked, the layer (a zip, a
folder, or one built from this environment), and a runtime folder linking only awslambdaric and
the distributions it requires, found through their installed metadata. Nothing else from this
environment's site-packages is reachable, so a bundle that imports something its layer lacks
fails here as it would in Lambda.
"""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from slpack.bundler.bundle import read_manifest
from slpack.deployment.layer import runtime_needs_layer
from slpack.errors import SlpackError
from slpack.layer.lockfile import find_lock, read_lock
from slpack.layer.target import host_target

RUNTIME_CLIENT = "awslambdaric"


@dataclass(frozen=True)
class Bundle:
    """A bundle unpacked as Lambda unpacks it."""

    name: str
    task_root: Path
    manifest: dict[str, Any]

    @property
    def needs_layer(self) -> bool:
        """Whether its runtime imports numpy and onnxruntime (a manifest naming none: a bundle
        from before the runtime choice, which all ran on onnxruntime)."""
        runtime = (self.manifest.get("runtime") or {}).get("name") or "onnxruntime"
        return runtime_needs_layer(str(runtime))


def unpack_bundle(bundle: Path, dest: Path) -> Bundle:
    """Unzip ``bundle``'s function.zip into ``dest`` (the task root) and read its manifest."""
    archive, manifest_file = bundle / "function.zip", bundle / "slpack.json"
    if not archive.is_file() or not manifest_file.is_file():
        raise SlpackError(
            f"{bundle} is not a bundle (it needs function.zip and slpack.json); "
            "pass the dist/NAME folder that `slpack build` wrote."
        )
    manifest = read_manifest(bundle)
    dest.mkdir(parents=True, exist_ok=True)
    _extract(archive, dest, "rebuild the bundle with slpack build")
    return Bundle(str(manifest.get("name") or bundle.name), dest, dict(manifest))


def _extract(archive: Path, dest: Path, fix: str) -> None:
    """Unzip ``archive``; a damaged one (a bad CRC, a truncated copy) is one sentence."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise SlpackError(f"{archive} cannot be unpacked ({exc}); {fix}.") from None


def layer_paths(layer: Path, dest: Path) -> tuple[Path, ...]:
    """The sys.path entries Lambda derives from a layer (a zip, or a folder holding ``python/``).

    A folder without ``python/`` is taken as the ``python/`` folder itself.
    """
    layer = layer.resolve()  # workers run in the task root: relative paths would point elsewhere
    if layer.is_file():
        if not zipfile.is_zipfile(layer):
            raise SlpackError(f"{layer} is not a zip file; pass a layer zip or folder.")
        _check_runs_here(layer)
        _extract(layer, dest, "rebuild it with slpack layer")
        root = dest / "python"
    elif layer.is_dir():
        root = layer / "python" if (layer / "python").is_dir() else layer
    else:
        raise SlpackError(f"layer {layer} does not exist; pass a layer zip or folder.")
    if not root.is_dir():
        raise SlpackError(f"layer {layer} has no python/ folder; build it with `slpack layer`.")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = root / "lib" / version / "site-packages"
    return (site_packages, root) if site_packages.is_dir() else (root,)


def _check_runs_here(layer_zip: Path) -> None:
    """Refuse a layer whose lock says it was built for another Python or architecture.

    Its compiled modules could not load in a local worker, which runs this interpreter; the
    failure would only surface at the first request, far from its cause.
    """
    lock_file = find_lock(layer_zip)
    if lock_file is None:
        return
    lock = read_lock(lock_file)
    host = host_target()
    if (lock.get("python"), lock.get("arch")) != (host.python, host.arch):
        raise SlpackError(
            f"{layer_zip.name} is built for Python {lock.get('python')} on "
            f"{lock.get('arch')} but local "
            f"workers run Python {host.python} on {host.arch}; omit --layer to use one "
            "built from this environment."
        )


def runtime_dir(dest: Path) -> Path:
    """Link awslambdaric and the distributions it requires (recursively) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in _closure(RUNTIME_CLIENT):
        for top in _top_level_entries(dist):
            link = dest / top.name
            if not link.exists():
                link.symlink_to(top, target_is_directory=top.is_dir())
    return dest


def requirements_dir(requirements: dict[str, str], dest: Path) -> Path:
    """Link the exact distributions a sklearn-runtime bundle records from this environment into
    ``dest`` (its stand-in for the image's packages); refuse if a version differs, since the
    parity gate vouched for those versions only."""
    dest.mkdir(parents=True, exist_ok=True)
    wrong = []
    for name, version in requirements.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} (not installed)")
            continue
        if dist.version != version:
            wrong.append(f"{name} {dist.version} (the bundle needs {version})")
            continue
        for top in _top_level_entries(dist):
            link = dest / top.name
            if not link.exists():
                link.symlink_to(top, target_is_directory=top.is_dir())
    if wrong:
        raise SlpackError(
            f"this environment lacks the versions the bundle was verified with: "
            f"{', '.join(wrong[:4])}; install them with pip install -r BUNDLE/requirements.txt."
        )
    return dest


def _closure(name: str) -> list[metadata.Distribution]:
    """``name``'s distribution and everything its requirements pull in, for this interpreter."""
    try:
        root = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise SlpackError(
            f"{name} is not installed; install slpack with the serve extra: pip install "
            "'slpack[serve]'."
        ) from None
    found = {root.metadata["Name"].lower(): root}
    todo = [root]
    while todo:
        for spec in todo.pop().requires or ():
            requirement = Requirement(spec)
            key = requirement.name.lower()
            if key in found or (
                requirement.marker and not requirement.marker.evaluate({"extra": ""})
            ):
                continue
            found[key] = metadata.distribution(requirement.name)
            todo.append(found[key])
    return list(found.values())


def _top_level_entries(dist: metadata.Distribution) -> set[Path]:
    """The installed top-level packages and modules of ``dist`` (no metadata, no scripts)."""
    entries = set()
    for file in dist.files or ():
        top = file.parts[0]
        if top == ".." or top.endswith((".dist-info", ".egg-info", ".pth")) or top == "__pycache__":
            continue
        entries.add(Path(str(dist.locate_file(top))))
    return entries
