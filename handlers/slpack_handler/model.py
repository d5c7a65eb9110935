"""Load the model once per container: manifest, verified bytes, a session tuned for functions.

Nothing here runs per request except :meth:`Model.predict`, which is one ``session.run`` with the
output names resolved at load and a response shaper chosen at load.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from slpack_handler.config import Settings
from slpack_handler.errors import ModelUnavailable

SUPPORTED_FORMATS = (1,)


def read_manifest(model_dir: str) -> dict[str, Any]:
    path = os.path.join(model_dir, "slpack.json")
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except FileNotFoundError:
        raise ModelUnavailable(f"the manifest {path} is missing; redeploy the bundle") from None
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"the manifest {path} cannot be read ({type(exc).__name__}); redeploy the bundle"
        ) from None
    if manifest.get("format") not in SUPPORTED_FORMATS:
        raise ModelUnavailable(
            f"manifest format {manifest.get('format')!r} is not supported by this handler; "
            "rebuild with a matching slpack"
        )
    return manifest


# Below this size the interpreter's built-in SHA-256 is done before OpenSSL would have loaded
# (hashlib's first use costs ~3 ms; the built-in hashes ~5 ms/MiB, OpenSSL ~0.6 ms/MiB).
_SMALL_MODEL_BYTES = 256 * 1024


def sha256_hex(data: bytes) -> str:
    """sha256 of ``data``, by the cheaper route for its size on a cold start."""
    if len(data) <= _SMALL_MODEL_BYTES:
        try:
            from _sha2 import sha256  # CPython >= 3.12
        except ImportError:
            try:
                from _sha256 import sha256  # type: ignore[no-redef]  # CPython 3.10, 3.11
            except ImportError:
                from hashlib import sha256  # type: ignore[assignment]
    else:
        from hashlib import sha256  # type: ignore[assignment]
    return sha256(data).hexdigest()


def model_bytes(manifest: dict[str, Any], settings: Settings) -> bytes:
    """The model file's bytes, verified against the manifest's sha256 before anything loads them."""
    expected = manifest["model"]["sha256"]
    if settings.model_uri:
        from slpack_handler.s3 import ModelFetchError, fetch_model

        try:
            path = fetch_model(settings.model_uri, expected, settings.model_cache_dir)
        except ModelFetchError as exc:
            raise ModelUnavailable(str(exc)) from None
    else:
        path = os.path.join(settings.model_dir, manifest["model"].get("file", "model.onnx"))
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ModelUnavailable(
            f"the model file {path} cannot be read ({exc.strerror or type(exc).__name__}); "
            "redeploy the bundle"
        ) from None
    actual = sha256_hex(data)
    if actual != expected:
        raise ModelUnavailable(
            f"the model file's sha256 {actual[:12]}... does not match the manifest's "
            f"{expected[:12]}...; "
            "it was not loaded (redeploy the bundle)"
        )
    return data


def session_options(manifest: dict[str, Any], settings: Settings) -> Any:
    """Options for a function: explicit threads, no spinning, sequential, quiet.

    Explicit thread counts also stop onnxruntime from pinning threads to cores, which fails with
    ``pthread_setaffinity_np failed`` in restricted containers. One intra-op thread answers single
    rows as fast as more (measured) and leaves the vCPU to the handler; batches can ask for more
    with SLPACK_INTRA_OP_THREADS. Basic graph optimisation was applied at build time, so the
    session only runs the hardware-dependent levels.
    """
    import onnxruntime as ort

    runtime = manifest.get("runtime") or {}
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads or int(
        runtime.get("intra_op_threads", 1)
    )
    options.inter_op_num_threads = int(runtime.get("inter_op_threads", 1))
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.enable_mem_pattern = True
    return options


class Model:
    """A loaded, warmed-up model with its compiled schema and response shaper."""

    def __init__(self, manifest: dict[str, Any], settings: Settings) -> None:
        import onnxruntime as ort

        from slpack_handler.schema import Schema

        started = time.perf_counter()
        self.manifest = manifest
        self.info = {
            "name": manifest["name"],
            "version": manifest["version"],
            "sha256": manifest["model"]["sha256"],
        }
        self.schema = Schema(manifest, settings.max_batch, settings.max_string_length)
        data = model_bytes(manifest, settings)
        try:
            self.session = ort.InferenceSession(
                data, session_options(manifest, settings), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelUnavailable(
                f"onnxruntime could not load the model ({str(exc).splitlines()[0][:200]})"
            ) from None
        output = manifest["output"]
        self.output_names: list[str] = list(output["names"])
        self.shape: Callable[[list[Any]], list[dict[str, Any]]] = _shaper(manifest["task"], output)
        self.predict(
            self.schema.feeds(self.schema.example())
        )  # warm-up: first-run allocations happen now
        self.load_ms = (time.perf_counter() - started) * 1000.0

    def predict(self, feeds: dict[str, Any]) -> list[dict[str, Any]]:
        return self.shape(self.session.run(self.output_names, feeds))


def _shaper(task: str, output: dict[str, Any]) -> Callable[[list[Any]], list[dict[str, Any]]]:
    """Choose, once, how raw outputs become response predictions."""
    if task == "classifier":
        classes = output.get("classes") or []
        keys = [str(c) for c in classes]
        as_bool = bool(classes) and isinstance(classes[0], bool)
        with_proba = output.get("probabilities") is not None

        def label(value: Any) -> Any:
            if isinstance(value, bytes):
                value = value.decode()
            return bool(value) if as_bool else value

        def classify(results: list[Any]) -> list[dict[str, Any]]:
            labels = [label(v) for v in results[0].reshape(-1).tolist()]
            if not with_proba:
                return [{"label": v} for v in labels]
            return [
                {"label": v, "probabilities": dict(zip(keys, p))}
                for v, p in zip(labels, results[1].tolist())
            ]

        return classify
    if task == "regressor":

        def regress(results: list[Any]) -> list[dict[str, Any]]:
            out = results[0]
            if out.ndim == 1 or out.shape[1] == 1:
                return [{"value": v} for v in out.reshape(-1).tolist()]
            return [{"value": row} for row in out.tolist()]

        return regress

    def embed(results: list[Any]) -> list[dict[str, Any]]:
        return [{"embedding": row} for row in results[0].reshape(len(results[0]), -1).tolist()]

    return embed
