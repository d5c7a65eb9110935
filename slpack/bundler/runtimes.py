"""The runtimes a bundle can ship, as the build tool sees them.

For each runtime: the artifact the function loads (file name, format, bytes), and the *handler's
own* runtime opened here on that artifact (:class:`LocalRuntime`), so the parity gate and the
probes run exactly the code that will answer requests: the same feeds, the same session options,
the same interpreter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slpack.bundler import introspect
from slpack.bundler.parity import OutputSpec, Predictions, runtime_predictions
from slpack.bundler.schema import Schema
from slpack.errors import SlpackError

if TYPE_CHECKING:
    from slpack_handler.contract import Manifest, ModelFormat, RuntimeEntry, RuntimeName

ONNX_FILE = "model.onnx"
PROGRAM_FILE = "model.pyrt"  # the Python runtime's compiled program


@dataclass(frozen=True)
class Artifact:
    """The file a runtime loads, as it will ship in function.zip's ``model/`` folder."""

    runtime: RuntimeName
    file: str
    format: ModelFormat
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def onnx_artifact(onnx_bytes: bytes) -> Artifact:
    return Artifact("onnxruntime", ONNX_FILE, "onnx", onnx_bytes)


class UnsupportedGraph(ValueError):
    """The Python runtime cannot evaluate the graph; ``ops`` names what it lacks."""

    def __init__(self, message: str, ops: list[str]) -> None:
        super().__init__(message)
        self.ops = ops


def python_artifact(onnx_model: Any) -> Artifact:
    """The graph compiled for the Python runtime; UnsupportedGraph names what it lacks."""
    from slpack import pycompile

    try:
        program = pycompile.compile_model(onnx_model)
    except pycompile.UnsupportedGraph as exc:
        raise UnsupportedGraph(str(exc), list(exc.ops)) from None
    return Artifact("python", PROGRAM_FILE, "slpack-python", program)


def draft_manifest(
    artifact: Artifact,
    schema: Schema,
    spec: OutputSpec,
    task: str,
    threads: int = 1,
    runtime: RuntimeEntry | None = None,
) -> Manifest:
    """The part of the manifest a runtime reads when it opens (``runtime``: what it reads from
    its manifest entry besides its name, such as the sklearn runtime's feed and trusted types)."""
    entry: RuntimeEntry = {
        "name": artifact.runtime,
        "intra_op_threads": threads,
        "inter_op_threads": 1,
        **(runtime or {}),
    }
    return {
        "task": task,  # type: ignore[typeddict-item]
        "model": {"file": artifact.file, "format": artifact.format, "sha256": artifact.sha256},
        "runtime": entry,
        "input": schema.to_manifest(),
        "output": spec.to_manifest(),
    }


class LocalRuntime:
    """The handler's runtime for ``artifact``, opened in this process."""

    def __init__(
        self,
        artifact: Artifact,
        schema: Schema,
        spec: OutputSpec,
        model: Any,
        runtime: RuntimeEntry | None = None,
    ) -> None:
        from slpack_handler.config import Settings
        from slpack_handler.errors import ModelUnavailable
        from slpack_handler.model import open_runtime
        from slpack_handler.schema import Schema as RequestSchema
        from slpack_handler.shape import shaper

        self.artifact, self.schema, self.spec, self.model = artifact, schema, spec, model
        manifest = draft_manifest(artifact, schema, spec, spec.task, runtime=runtime)
        try:
            self.runtime = open_runtime(dict(manifest), Settings(), artifact.data)
            self.requests = RequestSchema(
                dict(manifest), 10**9, 10**9, getattr(self.runtime, "bulk", None)
            )
            self.shape = shaper(spec.task, dict(manifest["output"]))
        except ModelUnavailable as exc:
            raise SlpackError(
                f"the {artifact.runtime} runtime cannot load the converted "
                f"{introspect.describe(model)} ({exc}); try another --opset or report the "
                "estimator."
            ) from None

    def outputs(self, frame: Any) -> list[Any]:
        """The runtime's raw outputs for the rows of ``frame``, sent as requests send them."""
        from slpack_handler.schema import Parsed

        outputs: list[Any] = self.runtime.run(
            Parsed(len(frame), self.schema.request_columns(frame))
        )
        return outputs

    def predictions(self, frame: Any) -> Predictions:
        return runtime_predictions(self.outputs(frame), self.spec)

    def answer(self, body: bytes) -> bytes:
        """The handler's request path for a JSON body: decode, validate, run, shape, encode."""
        parsed = self.requests.parse(json.loads(body))
        return json.dumps({"predictions": self.shape(self.runtime.run(parsed))}).encode()
