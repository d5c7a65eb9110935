"""Measure the Python runtime (slpack_handler.pyrt) against onnxruntime on the graphs slpack ships.

For each model: the program's size, its load time, one row and a 100-row batch through
``Program.run`` and through onnxruntime's ``session.run`` (one intra-op thread, as the handler
runs it), and a cold start in a fresh interpreter (import + load + first one-row answer, wall
time and peak RSS) for both runtimes. Run: ``python benchmarks/pyrt_kernels.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median
from typing import Any

import onnx
import onnxruntime as ort
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression

from slpack.bundler.convert import convert
from slpack.bundler.optimize import optimize_offline
from slpack.bundler.schema import infer_schema
from slpack.pycompile import compile_model
from slpack_handler.pyrt import load

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
_COLD_PYRT = """
import sys, time, json
t = time.perf_counter()
sys.path.insert(0, {handlers!r})
from slpack_handler.pyrt import load
p = load(open({path!r}, "rb").read())
p.run(json.loads({row!r}))
ms = (time.perf_counter() - t) * 1000
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(ms, int(hwm) / 1024)
"""
_COLD_ORT = """
import time, json
t = time.perf_counter()
import numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession(open({path!r}, "rb").read(), o, providers=["CPUExecutionProvider"])
s.run(None, {{k: np.asarray(v, dtype=np.float32) for k, v in json.loads({row!r}).items()}})
ms = (time.perf_counter() - t) * 1000
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(ms, int(hwm) / 1024)
"""


def models() -> dict[str, tuple[Any, Any]]:
    iris, diabetes, cancer = (
        f(return_X_y=True, as_frame=True) for f in (load_iris, load_diabetes, load_breast_cancer)
    )
    out: dict[str, tuple[Any, Any]] = {
        "logreg (iris)": (LogisticRegression(max_iter=1000).fit(*iris), iris[0]),
        "linear (diabetes)": (LinearRegression().fit(*diabetes), diabetes[0]),
    }
    for n in (60, 200, 500):
        out[f"rf-reg {n} (diabetes)"] = (
            RandomForestRegressor(n, max_depth=8, random_state=0).fit(*diabetes),
            diabetes[0],
        )
        out[f"rf-clf {n} (cancer)"] = (
            RandomForestClassifier(n, max_depth=8, random_state=0).fit(*cancer),
            cancer[0],
        )
        out[f"gb-reg {n} (diabetes)"] = (
            GradientBoostingRegressor(n_estimators=n, random_state=0).fit(*diabetes),
            diabetes[0],
        )
        out[f"gb-clf {n} (cancer)"] = (
            GradientBoostingClassifier(n_estimators=n, random_state=0).fit(*cancer),
            cancer[0],
        )
    return out


def timed(fn: Any, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return median(runs) * 1e6


def cold(script: str) -> tuple[float, float]:
    """Median wall ms of three fresh interpreters, and their peak RSS in MiB (VmHWM, which a
    child reports itself: the parent's counters would include the pre-exec fork)."""
    walls, peaks = [], []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True
        )
        wall, peak = done.stdout.split()
        walls.append(float(wall))
        peaks.append(float(peak))
    return median(walls), max(peaks)


def main() -> None:
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="pyrt-bench-"))
    for name, (model, sample) in models().items():
        schema, frame = infer_schema(model, sample)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph, _ = optimize_offline(convert(model, schema).onnx_model.SerializeToString())
        program_bytes = compile_model(onnx.load_from_string(graph))
        feeds = schema.onnx_feeds(frame.head(100))
        one = {k: v[:1] for k, v in feeds.items()}
        one_rows = {k: v.tolist() for k, v in one.items()}
        batch_rows = {k: v.tolist() for k, v in feeds.items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        program = load(program_bytes)
        (tmp / "m.onnx").write_bytes(graph)
        (tmp / "m.bin").write_bytes(program_bytes)
        row_json = json.dumps(one_rows)
        cold_py = cold(
            _COLD_PYRT.format(handlers=str(HANDLERS), path=str(tmp / "m.bin"), row=row_json)
        )
        cold_ort = cold(_COLD_ORT.format(path=str(tmp / "m.onnx"), row=row_json))
        rows.append(
            {
                "model": name,
                "onnx KB": len(graph) / 1024,
                "program KB": len(program_bytes) / 1024,
                "load ms": timed(lambda b=program_bytes: load(b), 7) / 1000,
                "1 row pyrt us": timed(lambda p=program, r=one_rows: p.run(r), 200),
                "1 row ORT us": timed(lambda s=session, f=one: s.run(None, f), 200),
                "100 rows pyrt us": timed(lambda p=program, r=batch_rows: p.run(r), 10),
                "100 rows ORT us": timed(lambda s=session, f=feeds: s.run(None, f), 50),
                "cold pyrt ms": cold_py[0],
                "cold ORT ms": cold_ort[0],
                "RSS pyrt MiB": cold_py[1],
                "RSS ORT MiB": cold_ort[1],
            }
        )
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print(
            "| " + " | ".join(v if isinstance(v, str) else f"{v:.1f}" for v in row.values()) + " |"
        )


if __name__ == "__main__":
    main()
