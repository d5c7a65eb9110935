"""The dependency layer a deployment runs on: a zip from ``slpack layer`` or a layer version ARN.

A zip's Python and architecture are read from its lock (``slpack layer`` writes one beside it),
else from its name; the runtime and architecture of the function follow them. Rendering with a
layer puts it inside the bundle (:func:`bundle_layer`), so a bundle folder is self-contained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from slpack.errors import SlpackError

_LAYER_NAME = re.compile(
    r"^ort-(?P<ort>[^-]+)-np(?P<np>[^-]+)-py(?P<major>\d)(?P<minor>\d+)-(?P<arch>x86_64|arm64)$"
)
LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
# The model runtimes whose function imports numpy and onnxruntime from a layer; the python runtime
# is stdlib-only, so its function.zip runs on the bare Lambda runtime.
LAYER_RUNTIMES = ("onnxruntime",)


def runtime_needs_layer(model_runtime: str) -> bool:
    """Whether a bundle on ``model_runtime`` needs the numpy + onnxruntime layer."""
    return model_runtime in LAYER_RUNTIMES


@dataclass(frozen=True)
class Layer:
    """The dependency layer: a local zip the template uploads, or an existing layer version."""

    arn: str | None = None
    path: Path | None = None
    python: str | None = None  # "3.12", when the layer says
    arch: str | None = None

    @property
    def reference(self) -> str:
        """What identifies the layer in a version fingerprint: its ARN, or its zip's file name."""
        return self.arn or (self.path.name if self.path else "")

    @property
    def name(self) -> str:
        """A layer name for the templates: the zip's stem (``ort-…-py312-x86_64``)."""
        assert self.path is not None
        return re.sub(r"[^A-Za-z0-9_-]", "-", self.path.stem)[:140]


def resolve_layer(ref: str) -> Layer:
    """Read a ``--layer`` value: a layer version ARN, or a zip written by ``slpack layer``.

    The zip's Python and architecture come from its lock file when there is one, else from its
    name (``ort-<ort>-np<numpy>-py<XY>-<arch>.zip``).
    """
    if ref.startswith("arn:"):
        if not LAYER_ARN.match(ref):
            raise SlpackError(
                f"{ref} is not a Lambda layer version ARN "
                "(arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)."
            )
        return Layer(arn=ref)
    path = Path(ref).expanduser().resolve()
    if not path.is_file() or path.suffix != ".zip":
        raise SlpackError(
            f"layer {ref} is not a zip file; build one with slpack layer or pass a layer ARN."
        )
    python, arch = _layer_lock(path)
    named = _LAYER_NAME.match(path.stem)
    if named:
        python = python or f"{named['major']}.{named['minor']}"
        arch = arch or named["arch"]
    return Layer(path=path, python=python, arch=arch)


def _layer_lock(zip_path: Path) -> tuple[str | None, str | None]:
    """Python and architecture from the lock ``slpack layer`` writes next to the zip, if any."""
    from slpack.layer.lockfile import find_lock, read_lock

    lock = find_lock(zip_path)
    if lock is None:
        return None, None
    data = read_lock(lock)
    python, arch = data.get("python"), data.get("arch")
    minor = ".".join(str(python).split(".")[:2]) if python else None  # "3.12.4" -> "3.12"
    return minor, (str(arch) if arch else None)


BUNDLED_LAYER_DIR = "layer"  # dist/NAME/layer/: the layer travels with the bundle
BUNDLED_ARN_FILE = "arn.txt"


def bundle_layer(bundle_dir: Path, ref: str) -> str:
    """Put the layer ``ref`` inside the bundle (``BUNDLE/layer/``) and return the reference to use.

    A zip and its lock are linked (or copied, across file systems) into the folder; an ARN is
    written to ``layer/arn.txt``. The templates then point inside the bundle and ``slpack deploy``
    finds the layer there, so ``dist/NAME`` can be moved, archived or handed over on its own.
    """
    from slpack.layer.lockfile import find_lock

    folder = bundle_dir / BUNDLED_LAYER_DIR
    if ref.startswith("arn:"):
        _replace_folder(folder)
        (folder / BUNDLED_ARN_FILE).write_text(ref + "\n", encoding="utf-8")
        return ref
    source = Path(ref).expanduser().resolve()
    if source.parent == folder.resolve():
        return str(source)  # already the bundle's own layer
    lock = find_lock(source) if source.is_file() else None
    if not source.is_file():
        return ref  # resolve_layer names the problem
    _replace_folder(folder)
    _link_or_copy(source, folder / source.name)
    if lock is not None:
        _link_or_copy(lock, folder / f"{source.stem}.lock.json")
    return str(folder / source.name)


def bundled_layer(bundle_dir: Path) -> str | None:
    """The layer :func:`bundle_layer` put in the bundle: a zip's path or an ARN (None if none)."""
    folder = bundle_dir / BUNDLED_LAYER_DIR
    arn_file = folder / BUNDLED_ARN_FILE
    if arn_file.is_file():
        return arn_file.read_text(encoding="utf-8").strip()
    zips = sorted(folder.glob("*.zip")) if folder.is_dir() else []
    return str(zips[0]) if len(zips) == 1 else None


def _replace_folder(folder: Path) -> None:
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link costs no space (layer zips are tens of MB); a copy where links cannot go."""
    import os
    import shutil

    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
