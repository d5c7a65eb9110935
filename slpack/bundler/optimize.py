"""Graph optimisation done once at build time, so no function pays for it at cold start.

Only the hardware-independent level ("basic": constant folding, redundant node elimination)
may be saved to a file and run anywhere; extended and layout optimisations depend on the
machine that runs the model, so the runtime keeps those. The parity gate runs on the optimised
graph: what ships is what was verified.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def optimize_offline(model_bytes: bytes) -> tuple[bytes, str]:
    """Return the basic-optimised model and the level applied ("basic", or "none" if it failed)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="slpack-opt-") as tmp:
        target = Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        options.log_severity_level = 3
        try:
            ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
            return target.read_bytes(), "basic"
        except Exception:
            return model_bytes, "none"
