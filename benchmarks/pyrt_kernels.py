"""Measure the Python runtime (slpack_handler.pyrt) against onnxruntime where ``--runtime auto``
decides: the handler's request path.

Each model is built twice with ``build_bundle`` (``runtime="python"`` and ``"onnxruntime"``), and
for both bundles the table gives:

- ``run``: the runtime alone, one row and a 100-row batch: ``Program.run`` against onnxruntime's
  ``session.run`` (one intra-op thread, as the handler runs it), on the feeds each runtime builds;
- ``auto``: :func:`slpack.bundler.selection.measure`, the figure ``auto`` compares (JSON in,
  validation, ``runtime.run``, shaping, JSON out; one row and 100 rows);
- ``http``: one row through ``App.handle_http`` in-process (routing and metrics included);
- sizes (program, function.zip), the program's load time, and a cold start: a fresh interpreter
  on the unpacked function.zip importing the handler and answering one row (wall ms and peak RSS).

Models: the four examples' pipelines, iris StandardScaler+LogisticRegression, and random forests
and gradient boosting (classifier and regressor) of 60, 200 and 500 trees.

Every warm figure is the lowest of ``--repeat`` medians (3), so that other load on the machine
stays out of the comparison. Run:
``python benchmarks/pyrt_kernels.py [--only SUBSTRING] [--no-cold] [--repeat N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import joblib
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from slpack.bundler import builder, selection
from slpack.bundler.builder import build_bundle
from slpack_handler.app import App
from slpack_handler.config import Settings
from slpack_handler.pyrt import load
from slpack_handler.schema import Parsed

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
_JSON = {"content-type": "application/json"}
_COLD = """
import json, sys, time
t = time.perf_counter()
sys.path.insert(0, {code!r})
from slpack_handler.app import App
from slpack_handler.config import Settings
app = App(Settings(metrics="none"))  # the model folder beside the package, as on Lambda
r = app.handle_http("POST", "/", {{"content-type": "application/json"}}, {body!r}, "cold")
assert r.status == 200, r.body
ms = (time.perf_counter() - t) * 1000
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(ms, int(hwm) / 1024)
"""


def _example(name: str) -> Callable[[], tuple[Any, Any]]:
    """An example's own fitted pipeline and sample (what its train.py wrote)."""

    def load() -> tuple[Any, Any]:
        folder = ROOT / "examples" / name
        return joblib.load(folder / "model.joblib"), pd.read_csv(folder / "sample.csv")

    return load


def models() -> dict[str, Any]:
    """Factories of (fitted model, sample) by name; fitted only when asked for."""
    iris, diabetes, cancer, wine = (
        f(return_X_y=True, as_frame=True)
        for f in (load_iris, load_diabetes, load_breast_cancer, load_wine)
    )
    out: dict[str, Any] = {
        "iris scaler+logreg": lambda: (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(*iris),
            iris[0],
        ),
        "ex embedding scaler+pca": lambda: (
            make_pipeline(StandardScaler(), PCA(n_components=4, random_state=0)).fit(wine[0]),
            wine[0],
        ),
        "ex regression scaler+gb200": lambda: (
            make_pipeline(
                StandardScaler(),
                GradientBoostingRegressor(n_estimators=200, max_depth=3, random_state=0),
            ).fit(*diabetes),
            diabetes[0],
        ),
        "ex personalization gb100": _example("personalization"),
        "ex text-routing tfidf+logreg": _example("text-routing"),
    }
    for n in (60, 200, 500):
        out[f"rf-reg {n}"] = lambda n=n: (
            RandomForestRegressor(n, max_depth=8, random_state=0).fit(*diabetes),
            diabetes[0],
        )
        out[f"rf-clf {n}"] = lambda n=n: (
            RandomForestClassifier(n, max_depth=8, random_state=0).fit(*cancer),
            cancer[0],
        )
        out[f"gb-reg {n}"] = lambda n=n: (
            GradientBoostingRegressor(n_estimators=n, random_state=0).fit(*diabetes),
            diabetes[0],
        )
        out[f"gb-clf {n}"] = lambda n=n: (
            GradientBoostingClassifier(n_estimators=n, random_state=0).fit(*cancer),
            cancer[0],
        )
    return out


def timed(fn: Any, budget: float = 0.3) -> float:
    """Median microseconds of ``fn()`` after a warm-up, within about ``budget`` seconds."""
    for _ in range(3):
        fn()
    runs: list[float] = []
    started = time.perf_counter()
    while len(runs) < 2000 and (time.perf_counter() - started < budget or len(runs) < 7):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return median(runs) * 1e6


def build(model: Any, sample: Any, out: Path, runtime: str) -> tuple[Any, Any, Path]:
    """``build_bundle`` with ``runtime``; returns the verified LocalRuntime (what ``measure``
    times), the frame the selection saw and the bundle folder."""
    seen: dict[str, Any] = {}
    select = selection.select

    def capture(
        requested: str, job: selection.Job, onnx_model: Any, onnx_bytes: bytes
    ) -> selection.Selected:
        chosen = select(requested, job, onnx_model, onnx_bytes)
        seen.update(local=chosen.local, frame=job.frame)
        return chosen

    builder.selection.select = capture
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = build_bundle(model, sample, out, name=runtime, runtime=runtime)
    finally:
        builder.selection.select = select
    return seen["local"], seen["frame"], result.bundle_dir


def cold(bundle: Path, body: bytes) -> tuple[float, float]:
    """The lowest wall ms of five fresh interpreters on the unpacked function.zip answering one
    row (the least disturbed by other processes), and their peak RSS in MiB (VmHWM, which the
    child reports itself)."""
    code = bundle.parent / (bundle.name + "-code")
    with zipfile.ZipFile(bundle / "function.zip") as archive:
        archive.extractall(code)
    script = _COLD.format(code=str(code), body=body)
    walls, peaks = [], []
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True
        )
        wall, peak = done.stdout.split()
        walls.append(float(wall))
        peaks.append(float(peak))
    return min(walls), max(peaks)


def _run_level(local: Any, frame: Any) -> tuple[float, float]:
    """The runtime alone (Program.run or session.run), one row and a batch, on its own feeds."""
    runtime = local.runtime
    timings = []
    for rows in (frame.head(1), _batch(frame)):
        feeds = runtime.feeds(Parsed(len(rows), local.schema.request_columns(rows)))
        if runtime.name == "python":
            program, names = runtime.program, runtime.output_names
            timings.append(timed(lambda p=program, f=feeds, n=names: p.run(f, n)))
        else:
            session, names = runtime.session, runtime.output_names
            timings.append(timed(lambda s=session, f=feeds, n=names: s.run(n, f)))
    return timings[0], timings[1]


def _batch(frame: Any) -> Any:
    rows = frame.dropna() if len(frame.dropna()) else frame
    return rows.iloc[[i % len(rows) for i in range(BATCH)]]


def measure_model(
    name: str, factory: Any, scratch: Path, with_cold: bool, repeat: int
) -> dict[str, Any]:
    """One table row; every warm figure is the lowest of ``repeat`` medians, which keeps what
    other processes on the machine do out of the comparison."""
    model, sample = factory()
    row: dict[str, Any] = {"model": name}
    for runtime, tag in (("python", "py"), ("onnxruntime", "ort")):
        local, frame, bundle = build(model, sample, scratch / name.replace(" ", "_"), runtime)
        autos = [selection.measure(local, frame) for _ in range(repeat)]
        auto = {k: min(a[k] for a in autos) for k in autos[0]}
        complete = frame.dropna()
        body = selection._body(local, (complete if len(complete) else frame).head(1))
        app = App(Settings(model_dir=str(bundle), metrics="none"))

        def http(a: Any = app, b: bytes = body) -> None:
            a.handle_http("POST", "/", _JSON, b, "bench")

        one, many = map(min, zip(*(_run_level(local, frame) for _ in range(repeat))))
        row.update(
            {
                f"run1 {tag}": one,
                f"run100 {tag}": many,
                f"auto1 {tag}": auto["single_row_us"],
                f"auto100 {tag}": auto["batch_us"],
                f"http1 {tag}": min(timed(http) for _ in range(repeat)),
                f"zip KB {tag}": (bundle / "function.zip").stat().st_size / 1024,
            }
        )
        if runtime == "python":
            data = local.artifact.data
            row["prog KB"] = len(data) / 1024
            row["load ms"] = timed(lambda d=data: load(d), 1.0) / 1000
        if with_cold:
            row[f"cold ms {tag}"], row[f"RSS MiB {tag}"] = cold(bundle, body)
    row["auto1 ratio"] = row["auto1 py"] / row["auto1 ort"]
    row["auto100 ratio"] = row["auto100 py"] / row["auto100 ort"]
    if with_cold:
        row["cold ratio"] = row["cold ms py"] / row["cold ms ort"]
    return row


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [row.get(k, "") for k in keys]
        lines.append(
            "| " + " | ".join(v if isinstance(v, str) else f"{v:.2f}" for v in cells) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="models whose name contains this")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold starts")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--repeat", type=int, default=3, help="medians per figure (lowest kept)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="pyrt-bench-"))
    rows = []
    for name, factory in models().items():
        if args.only and not any(part in name for part in args.only):
            continue
        rows.append(measure_model(name, factory, scratch, not args.no_cold, args.repeat))
        print(f"measured {name}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
