"""Load the model once per container: manifest, verified bytes, the runtime the manifest names.

The runtimes (:data:`RUNTIMES`) sit behind one seam: each is opened with the manifest, the
settings and the verified model bytes, and answers ``run(parsed) -> outputs`` (one nested list
per output name). Validation, response shaping, limits, errors, cache and metrics are the same
code for all of them, so the runtime is an implementation detail a caller cannot observe.
Nothing here runs per request except :meth:`Model.predict`.
"""

from __future__ import annotations

import importlib
import os
import time
from typing import TYPE_CHECKING, Any

from slpack_handler.config import Settings
from slpack_handler.contract import MANIFEST_FILE, ManifestError, read_manifest
from slpack_handler.errors import ModelUnavailable
from slpack_handler.schema import Parsed, Schema
from slpack_handler.shape import shaper

if TYPE_CHECKING:
    from collections.abc import Callable

    from slpack_handler.schema import BulkCheck

    class Runtime:
        """What every runtime module's ``open_runtime(manifest, settings, data)`` returns."""

        name: str
        bulk: BulkCheck | None

        def run(self, parsed: Parsed) -> list[Any]: ...


# Runtime name (the manifest's runtime.name) -> the module that opens it. A module is imported
# only when its runtime is used: a Python-runtime function never imports numpy.
RUNTIMES = {
    "onnxruntime": "slpack_handler.runtime_onnx",
    "python": "slpack_handler.runtime_python",
    "sklearn": "slpack_handler.runtime_sklearn",
}


def load_manifest(model_dir: str) -> dict[str, Any]:
    """The manifest in ``model_dir``, or ModelUnavailable saying what to do."""
    try:
        return dict(read_manifest(os.path.join(model_dir, MANIFEST_FILE)))
    except ManifestError as exc:
        raise ModelUnavailable(str(exc)) from None


# Below this size the interpreter's built-in SHA-256 is done before OpenSSL would have loaded
# (hashlib's first use costs ~3 ms; the built-in hashes ~5 ms/MiB, OpenSSL ~0.6 ms/MiB).
_SMALL_MODEL_BYTES = 256 * 1024


def sha256_hex(data: bytes) -> str:
    """sha256 of ``data``, by the cheaper route for its size on a cold start."""
    if len(data) <= _SMALL_MODEL_BYTES:
        for name in ("_sha2", "_sha256"):  # the built-in module: CPython >= 3.12, then 3.9-3.11
            try:
                return str(importlib.import_module(name).sha256(data).hexdigest())
            except ImportError:
                continue
    import hashlib

    return hashlib.sha256(data).hexdigest()


def model_bytes(
    manifest: dict[str, Any], settings: Settings, deadline: float | None = None
) -> bytes:
    """The model file's bytes, verified against the manifest's sha256 before anything reads them.

    ``deadline`` (``time.monotonic()`` seconds) bounds an S3 fetch: the function's remaining time.
    """
    entry = manifest["model"]
    expected = entry["sha256"]
    if settings.model_uri:
        from slpack_handler.s3 import ModelFetchError, fetch_model

        budget = None if deadline is None else deadline - time.monotonic()
        try:
            path = fetch_model(
                settings.model_uri,
                expected,
                settings.model_cache_dir,
                budget_s=budget,
                margin_s=settings.model_fetch_margin_ms / 1000,
            )
        except ModelFetchError as exc:
            raise ModelUnavailable(str(exc)) from None
    else:
        path = os.path.join(settings.model_dir, entry["file"])
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ModelUnavailable(
            f"the model file {path} cannot be read ({reason}); redeploy the bundle"
        ) from None
    actual = sha256_hex(data)
    if actual != expected:
        raise ModelUnavailable(
            f"the model file's sha256 {actual} does not match the manifest's {expected}; "
            "it was not loaded (redeploy the bundle)"
        )
    return data


def open_runtime(manifest: dict[str, Any], settings: Settings, data: bytes) -> Runtime:
    """Open the runtime the manifest names (its libraries are imported now, not before)."""
    name = str((manifest.get("runtime") or {}).get("name"))
    module_name = RUNTIMES.get(name)
    if module_name is None:
        raise ModelUnavailable(
            f"the manifest names runtime {name!r}, which this handler does not have; "
            f"rebuild the bundle with one of {', '.join(RUNTIMES)}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelUnavailable(
            f"the {name} runtime cannot start: {exc}; deploy the bundle with its layer or image"
        ) from None
    opened: Runtime = module.open_runtime(manifest, settings, data)
    return opened


class Model:
    """A loaded, warmed-up model: its compiled schema, its runtime and its response shaper."""

    def __init__(
        self, manifest: dict[str, Any], settings: Settings, deadline: float | None = None
    ) -> None:
        started = time.perf_counter()
        self.manifest = manifest
        self.info = {
            "name": manifest["name"],
            "version": manifest["version"],
            "sha256": manifest["model"]["sha256"],
        }
        self.runtime = open_runtime(manifest, settings, model_bytes(manifest, settings, deadline))
        self.schema = Schema(
            manifest,
            settings.max_batch,
            settings.max_string_length,
            getattr(self.runtime, "bulk", None),
        )
        try:
            self.shape: Callable[[list[Any]], list[dict[str, Any]]] = shaper(
                manifest["task"], manifest["output"]
            )
        except ValueError as exc:
            raise ModelUnavailable(f"{exc}; rebuild the bundle with this slpack") from None
        self.predict(self.schema.example())  # warm-up: first-run allocations happen now
        self.load_ms = (time.perf_counter() - started) * 1000.0

    def predict(self, parsed: Parsed) -> list[dict[str, Any]]:
        return self.shape(self.runtime.run(parsed))
