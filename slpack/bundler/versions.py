"""The versions a bundle was built with, recorded in its manifest."""

from __future__ import annotations

import platform
from importlib import metadata

import slpack

TOOLS = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy", "protobuf")


def build_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "slpack": slpack.__version__}
    for dist in TOOLS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions
