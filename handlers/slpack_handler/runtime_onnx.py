"""The onnxruntime runtime: the verified ONNX graph in an ``InferenceSession`` tuned for functions.

Per request: validated columns -> C-contiguous numpy feeds of the manifest's dtypes -> one
``session.run`` -> outputs as nested lists (what the response shaper reads, whatever the
runtime). Long number columns are checked in bulk with numpy (:meth:`OnnxRuntime.bulk`), whose
float64 arrays are then reused for the feeds.
"""

from __future__ import annotations

import os
from typing import Any

# numpy's OpenBLAS starts a worker thread per extra CPU when numpy is imported, and that thread
# busy-waits ~0.1 s for matrix work this runtime never gives it (it builds feeds; onnxruntime
# computes). On a function's one or two vCPUs it takes that CPU from the cold start: ~75 ms of
# CPU and ~20% of the wall time measured (docs/bench.md). Set before numpy loads OpenBLAS; a
# value the deployer set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import onnxruntime as ort

from slpack_handler.config import Settings
from slpack_handler.contract import MISSING_STRING
from slpack_handler.errors import ModelUnavailable, first_line
from slpack_handler.schema import Feature, Parsed

_NUMPY = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}
_PLAIN_NUMBERS = frozenset((int, float))


def session_options(runtime: dict[str, Any], settings: Settings) -> ort.SessionOptions:
    """Options for a function: explicit threads, no spinning, sequential, quiet.

    Explicit thread counts also stop onnxruntime from pinning threads to cores, which fails with
    ``pthread_setaffinity_np failed`` in restricted containers. One intra-op thread answers single
    rows as fast as more (measured) and leaves the vCPU to the handler; batches can ask for more
    with SLPACK_INTRA_OP_THREADS. Basic graph optimisation was applied at build time, so the
    session only runs the hardware-dependent levels.
    """
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


class OnnxRuntime:
    """One session, its output names and the feed layout, resolved at load."""

    name = "onnxruntime"

    def __init__(self, manifest: dict[str, Any], settings: Settings, data: bytes) -> None:
        try:
            self.session = ort.InferenceSession(
                data,
                session_options(manifest.get("runtime") or {}, settings),
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:
            raise ModelUnavailable(
                f"onnxruntime could not load the model ({first_line(exc)})"
            ) from None
        spec = manifest["input"]
        self.output_names: list[str] = list(manifest["output"]["names"])
        self.tensor = spec["layout"] == "tensor"
        tensor = spec.get("tensor") or {}
        self.tensor_name: str = tensor.get("name", "X")
        self.tensor_dtype = _NUMPY[tensor.get("dtype", "float32")]
        self.inputs = [(f.get("onnx_name") or f["name"], f["dtype"]) for f in spec["features"]]

    def run(self, parsed: Parsed) -> list[Any]:
        """The model's outputs for ``parsed``, in the manifest's order, as nested lists."""
        results = self.session.run(self.output_names, self.feeds(parsed))
        return [r.tolist() if isinstance(r, np.ndarray) else _listed(r) for r in results]

    def feeds(self, parsed: Parsed) -> dict[str, np.ndarray]:
        """C-contiguous arrays of the manifest's dtypes, keyed by ONNX input name."""
        arrays, n = parsed.arrays, parsed.rows
        if self.tensor:
            if len(arrays) == len(self.inputs):
                matrix = np.stack([arrays[i] for i in range(len(self.inputs))], axis=1)
            else:  # None (a nullable missing value) becomes NaN in a float array
                matrix = np.array(parsed.columns, dtype=np.float64).T
            return {self.tensor_name: np.ascontiguousarray(matrix, dtype=self.tensor_dtype)}
        feeds = {}
        for i, ((name, dtype), values) in enumerate(zip(self.inputs, parsed.columns)):
            checked = arrays.get(i)
            if checked is not None:
                array = checked if dtype == "float64" else checked.astype(_NUMPY[dtype])
            elif dtype == "string":
                array = np.array([MISSING_STRING if v is None else v for v in values], dtype=object)
            else:
                wide = np.float64 if dtype.startswith("float") else _NUMPY[dtype]
                array = np.array(values, dtype=wide)
                if array.dtype != _NUMPY[dtype]:
                    array = array.astype(_NUMPY[dtype])
            feeds[name] = array.reshape(n, 1)
        return feeds

    @staticmethod
    def bulk(f: Feature, values: list[Any], parsed: Parsed, index: int) -> bool:
        """Check a column of plain numbers in one numpy pass; False sends it to the per-value path.

        The per-value path is exact and names every problem; this one only says yes for a column
        of ints and floats that are all finite and in range for the dtype, which is nearly every
        request, and keeps the float64 array for :meth:`feeds`.
        """
        if not set(map(type, values)) <= _PLAIN_NUMBERS:
            return False  # None, bool, str, ...: typed one by one
        try:
            array = np.array(values, dtype=np.float64)
        except OverflowError:  # an int beyond float64
            return False
        if not (np.abs(array) <= f.max_abs).all():  # also False for NaN and infinities
            return False
        if f.low is not None and f.high is not None:
            parsed.out_of_range += int(np.count_nonzero((array < f.low) | (array > f.high)))
        parsed.arrays[index] = array
        return True


def _listed(value: Any) -> Any:
    """A sequence output (a list of arrays or of maps) as plain lists."""
    if isinstance(value, list):
        return [v.tolist() if isinstance(v, np.ndarray) else v for v in value]
    return value


def open_runtime(manifest: dict[str, Any], settings: Settings, data: bytes) -> OnnxRuntime:
    return OnnxRuntime(manifest, settings, data)
