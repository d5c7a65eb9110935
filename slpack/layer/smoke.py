"""Prove a built layer works: import it in an isolated interpreter and run a model.

``python -I -S`` ignores the environment and site-packages, so the only numpy and onnxruntime
the interpreter can find are the layer's: a trim rule that removed something the runtime needs,
a missing dependency or a wheel for the wrong platform all fail here, before deployment. The
model (``layers/smoke.onnx``) uses an ``ai.onnx`` and an ``ai.onnx.ml`` operator, as
scikit-learn conversions do, and its output is checked against numpy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from slpack.errors import SlpackError
from slpack.layer.target import Target, host_can_run
from slpack.resources import data_dir

_SCRIPT = r"""
import importlib.metadata, json, sys
layer, model = sys.argv[1], sys.argv[2]
sys.path.insert(0, layer)
import numpy as np
import onnxruntime as ort
for module in (np, ort):
    assert module.__file__.startswith(layer), f"{module.__name__} came from {module.__file__}"
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
(got,) = session.run(None, {"X": x})
w = np.array([[1.0, -1.0, 0.5], [0.25, 2.0, -1.0]], dtype=np.float32)
z = ((x - np.array([1.0, 2.0])) * np.array([0.5, 2.0])) @ w
e = np.exp(z - z.max(axis=1, keepdims=True))
want = e / e.sum(axis=1, keepdims=True)
assert np.allclose(got, want, atol=1e-6), (got, want)
loaded = sorted({m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names) -
{"__main__"})
print(json.dumps({
    "python": sys.version.split()[0], "numpy": np.__version__, "onnxruntime": ort.__version__,
    "metadata": {d: importlib.metadata.version(d) for d in ("numpy", "onnxruntime")},
    "providers": ort.get_available_providers(), "modules": loaded,
}))
"""


@dataclass(frozen=True)
class SmokeResult:
    ran: bool
    detail: dict[str, object]  # what the interpreter reported, or why the test could not run here

    def to_json(self) -> dict[str, object]:
        return {"ran": self.ran, **self.detail}


def interpreter_for(target: Target, explicit: str | None = None) -> str | None:
    """A working interpreter of the target's Python version on a machine that can load its binaries.

    ``explicit`` (``--smoke-python``) is used as given and must work; otherwise this interpreter
    or ``python3.X`` on PATH, whichever really runs that version (a pyenv shim may not).
    """
    if not host_can_run(target):
        if explicit:
            raise SlpackError(
                f"this machine cannot load binaries for {target.describe()}; drop --smoke-python."
            )
        return None
    candidates = (
        [explicit] if explicit else [sys.executable, shutil.which(f"python{target.python}")]
    )
    for candidate in candidates:
        if candidate and _python_version(candidate) == target.python:
            return candidate
    if explicit:
        raise SlpackError(
            f"--smoke-python {explicit} does not run Python {target.python}; pass an interpreter "
            "of that version."
        )
    return None


def _python_version(python: str) -> str | None:
    try:
        proc = subprocess.run(
            [python, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def smoke_test(zip_path: Path, target: Target, python: str | None) -> SmokeResult:
    """Unpack ``zip_path`` to a temp folder and run the smoke script with ``python``; raise when it
    fails.

    Without an interpreter (a foreign target) the result says the test could not run here.
    """
    if python is None:
        reason = (
            f"no Python {target.python} for {target.arch} on this machine; checked platform "
            "tags and layout only"
        )
        return SmokeResult(False, {"reason": reason})
    with tempfile.TemporaryDirectory(prefix="slpack-layer-smoke-") as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        layer = str(Path(tmp) / "python")
        model = str(data_dir("layers") / "smoke.onnx")
        proc = subprocess.run(
            [python, "-I", "-S", "-c", _SCRIPT, layer, model],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp,
            check=False,
        )
    if proc.returncode != 0:
        raise smoke_failure(target, proc)
    return SmokeResult(True, json.loads(proc.stdout.strip().splitlines()[-1]))


def smoke_failure(target: Target, proc: subprocess.CompletedProcess[str]) -> SlpackError:
    """The error for a layer whose packages would not import or run in an isolated interpreter."""
    last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return SlpackError(
        f"the layer failed its smoke test in an isolated Python {target.python} ({last}); "
        "a trim rule removed something the runtime needs: fix the layer spec."
    )
