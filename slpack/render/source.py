"""The source folder the build-from-source platforms deploy (Cloud Run functions, Azure Functions).

Both platforms pip-install ``requirements.txt`` on their own builders for their own Python, so the
folder carries code and model only: ``slpack_handler/``, ``model/`` (the bundle's model and
manifest) and the platform's entry file. A bundle on onnxruntime requires numpy and onnxruntime,
at least the versions it was verified with (its parity check, and its layer when one was given),
so a platform never installs an older runtime than the one that was checked; newer ones are
allowed, as onnxruntime keeps old opsets working. A bundle on the python runtime requires neither:
its handler is the standard library only.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

from packaging.version import InvalidVersion, Version

from slpack import ziputil
from slpack.bundler.bundle import MANIFEST, read_manifest
from slpack.deployment import Deployment
from slpack.errors import SlpackError
from slpack.resources import handler_package

RUNTIME_PACKAGES = ("numpy", "onnxruntime")


def source_entries(d: Deployment) -> dict[str, Path]:
    """The handler package and the model folder, by their path in the source folder."""
    entries = ziputil.tree_entries(handler_package(), prefix="slpack_handler")
    entries[f"model/{d.model_filename}"] = d.model_file
    entries[f"model/{MANIFEST}"] = d.bundle_dir / MANIFEST
    return entries


def copy_entries(entries: dict[str, Path], dest: Path) -> list[Path]:
    """Copy ``entries`` under ``dest``; return the files written."""
    written = []
    for name, source in entries.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written


def requirement_floors(d: Deployment) -> dict[str, str]:
    """``{package: lowest version}`` for numpy and onnxruntime: the newest of what the manifest's
    build versions, the manifest's layer lock and the ``--layer`` lock record; for onnxruntime
    recorded nowhere, the graph's ``min_onnxruntime``. Empty for a bundle that needs neither."""
    if not d.needs_layer:
        return {}
    manifest = read_manifest(d.bundle_dir)
    locks = [(manifest.get("layer") or {}).get("lock") or {}]
    if d.layer is not None and d.layer.path is not None:
        from slpack.layer.lockfile import find_lock, read_lock

        found = find_lock(d.layer.path)
        locks.append(read_lock(found) if found else {})
    records = [manifest.get("versions") or {}]
    records += [
        {p.get("name"): p.get("version") for p in lock.get("packages") or []} for lock in locks
    ]
    floors = {}
    for name in RUNTIME_PACKAGES:
        versions = [str(r[name]) for r in records if r.get(name)]
        minimum = (manifest.get("onnx") or {}).get("min_onnxruntime")
        if not versions and name == "onnxruntime" and minimum:
            versions = [str(minimum)]
        if versions:
            floors[name] = max(versions, key=_version)
    return floors


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise SlpackError(
            f"the bundle records an unreadable version {text!r}; rebuild it with slpack build."
        ) from None


def requirements(d: Deployment, *platform: str) -> str:
    """``requirements.txt``: the platform's own packages, then (for a bundle on onnxruntime) numpy
    and onnxruntime with floors."""
    floors = requirement_floors(d)
    runtime = RUNTIME_PACKAGES if d.needs_layer else ()
    lines = [
        *platform,
        *(f"{name}>={floors[name]}" if name in floors else name for name in runtime),
    ]
    return (
        "# Rendered by slpack: lower bounds only (the versions this bundle was verified with).\n"
        + "\n".join(lines)
        + "\n"
    )


def platform_environment(d: Deployment, sink: str) -> dict[str, str]:
    """The handler's environment on a platform whose native metric sink is ``sink``.

    ``--metrics emf`` (the default) means "the platform's metrics": CloudWatch EMF is meaningless
    off AWS, so it becomes ``sink``; ``log`` and ``none`` are kept as asked. The EMF namespace has
    no meaning there either and is left out.
    """
    env = d.environment()
    env.pop("SLPACK_METRICS_NAMESPACE", None)
    if env.get("SLPACK_METRICS") == "emf":
        env["SLPACK_METRICS"] = sink
    return env


def resource_name(name: str, limit: int) -> str:
    """A lower-case DNS-style name (letters, digits, hyphens; starts with a letter), at most
    ``limit``
    characters: what Cloud Run services and Azure function apps accept."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    cleaned = re.sub(r"-{2,}", "-", cleaned).lstrip("-0123456789")[:limit].rstrip("-")
    if not cleaned:
        raise SlpackError(f"cannot make a cloud resource name from {name!r}; pass --function-name.")
    return cleaned


def warn_unsupported(d: Deployment, platform: str) -> None:
    """Say which AWS-only options this platform's files do not carry, instead of dropping them
    silently."""
    from slpack.render import RenderWarning

    ignored = []
    if d.options.cors_origins:
        ignored.append("--cors-origin")
    if d.options.uses_s3_model:
        ignored.append("the S3 model source (the model ships in the source folder)")
    if d.options.snapstart:
        ignored.append("--snapstart (a Lambda feature)")
    if ignored:
        warnings.warn(
            f"the {platform} target does not apply {', '.join(ignored)}.",
            RenderWarning,
            stacklevel=3,
        )
