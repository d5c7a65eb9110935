"""``slpack bench``: the report's structure and the fairness of what it compares (never speeds)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from pipelines import COVERAGE

from slpack.bench.baseline import write_baseline
from slpack.bench.measure import BenchOptions, BenchResult
from slpack.bench.procs import ColdStart
from slpack.bench.report import to_json, to_markdown
from slpack.bench.sizes import Size
from slpack.bench.variants import Function, runtime_functions
from slpack.bench.workload import BATCH, SINGLE, make_workload
from slpack.bundler import build_bundle, runtimes

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
TARGETS = ("python", "onnxruntime", "sklearn", "interpreter", "session")
PAIRS = (
    "sklearn/python",
    "sklearn/onnxruntime",
    "python/interpreter",
    "onnxruntime/session",
    "python/onnxruntime",
)
PARTS = {
    "python": {"function"},
    "onnxruntime": {"function", "layer"},
    "sklearn": {"function", "stack"},
    "session": {"layer", "model"},
}


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small classifier bundle on onnxruntime and the joblib file it was built from."""
    root = tmp_path_factory.mktemp("bench")
    model, sample = COVERAGE["standard-scaler-logreg"]()
    joblib.dump(model, root / "iris.joblib")
    built = build_bundle(model, sample, root / "dist", name="iris", runtime="onnxruntime")
    return built.bundle_dir, root / "iris.joblib"


@pytest.mark.slow
def test_quick_bench_writes_every_figure(
    iris: tuple[Path, Path], host_layer_dir: Path, run_cli: Any, tmp_path: Path
) -> None:
    bundle, model = iris
    out = tmp_path / "out"
    result = run_cli(
        "bench",
        bundle,
        "--baseline",
        model,
        "--layer",
        host_layer_dir,
        "--quick",
        "--json",
        out / "bench.json",
        "--markdown",
        out / "bench.md",
    )
    assert result.code == 0, result.err
    report = json.loads((out / "bench.json").read_text())

    settings = report["settings"]
    assert (settings["runs"], settings["requests"], settings["warmup_requests"]) == (3, 200, 10)
    assert report["bundle"]["runtime"] == "onnxruntime" and report["bundle"]["made"] == ["python"]
    assert all(report["targets"][t] == {"applicable": True, "reason": None} for t in TARGETS)
    for target in TARGETS:
        cold = report["cold_start_ms"][target]
        assert len(cold["samples"]) == 3 and 0 < cold["min"] <= cold["median"] <= cold["max"]
        assert report["peak_rss_mib"][target]["median"] > 0
        phases = report["cold_start_phases_ms"][target]
        assert {"startup", "driver", "first_call"} <= set(phases)
        assert sum(phases.values()) <= cold["max"] * 1.01  # the child's phases fit the parent's
    assert "session" in report["cold_start_phases_ms"]["session"]
    assert "import" not in report["cold_start_phases_ms"]["interpreter"]
    for name in ("single", "batch"):
        warm = report["warm_ms"][name]
        assert set(warm) == set(TARGETS) - {"interpreter"}  # the interpreter answers nothing
        assert all(w["n"] == 200 and 0 < w["median"] <= w["p99"] <= w["max"] for w in warm.values())
    sizes = report["size_bytes"]
    assert {t: set(parts) - {"total"} for t, parts in sizes.items()} == PARTS
    for parts in sizes.values():
        assert all(0 < p["zipped"] < p["unzipped"] for p in parts.values())
        assert parts["total"]["zipped"] == sum(
            p["zipped"] for k, p in parts.items() if k != "total"
        )
    shipped = (bundle / "function.zip").stat().st_size
    assert sizes["onnxruntime"]["function"]["zipped"] == shipped  # the bundle's own function.zip
    for runtime in ("python", "onnxruntime"):
        assert report["agreement"][runtime] == {
            "rows": 100,
            "label_agreement": 1.0,
            "max_abs_error": pytest.approx(0, abs=1e-4),
        }
    _assert_derived(report)

    markdown = (out / "bench.md").read_text()
    assert "| cold start, ms |" in markdown and "| aim | measured | target |" in markdown
    assert "python / onnxruntime" in markdown and "made from the bundle's model.onnx" in markdown
    assert "ratios" in result.out and "aims" in result.out
    # stderr is not a terminal here: every step is a line, not an invisible spinner
    assert "cold starts: round 3/3" in result.err and "warm requests: batch" in result.err


def _assert_derived(report: dict[str, Any]) -> None:
    """Figures come from the raw summaries; every ratio and aim from the figures."""
    figures, ratios = report["figures"], report["ratios"]
    assert set(figures) == set(ratios) and all(set(f) == set(TARGETS) for f in figures.values())
    for t in TARGETS:
        assert figures["cold_start"][t] == report["cold_start_ms"][t]["median"]
        assert figures["peak_rss"][t] == report["peak_rss_mib"][t]["median"]
    for name in ("single", "batch"):
        for t, warm in report["warm_ms"][name].items():
            assert figures[f"warm_{name}_p50"][t] == warm["median"]
            assert figures[f"warm_{name}_p99"][t] == warm["p99"]
    for t, parts in report["size_bytes"].items():
        assert figures["size_zipped"][t] == pytest.approx(parts["total"]["zipped"] / 1e6, 1e-3)
    for metric, by_pair in ratios.items():
        assert tuple(by_pair) == PAIRS
        for pair, ratio in by_pair.items():
            a, b = (figures[metric][t] for t in pair.split("/"))
            if a is None or b is None:  # only the interpreter floor lacks figures
                assert ratio is None and "interpreter" in pair and metric != "cold_start"
            else:
                assert ratio == pytest.approx(a / b, rel=1e-3)
    aims = report["aims"]
    assert len(aims) == 9 and all(isinstance(a["met"], bool) for a in aims)
    for aim in aims:
        source = ratios if aim["pair"] else figures
        assert aim["measured"] == source[aim["metric"]][aim["pair"] or aim["runtime"]]
        assert aim["met"] == (
            aim["measured"] >= aim["target"]
            if aim["at_least"]
            else aim["measured"] <= aim["target"]
        )


@pytest.mark.slow
def test_a_baseline_that_is_not_the_bundles_model_is_refused(
    iris: tuple[Path, Path], host_layer_dir: Path, run_cli: Any, tmp_path: Path
) -> None:
    bundle, _ = iris
    other, _ = COVERAGE["decision-tree-classifier"]()  # same iris columns, other answers
    joblib.dump(other, tmp_path / "tree.joblib")
    result = run_cli(
        "bench",
        bundle,
        "--baseline",
        tmp_path / "tree.joblib",
        "--layer",
        host_layer_dir,
        "--quick",
    )
    assert result.code != 0
    assert "pass the model file the bundle was built from" in result.err
    assert "Traceback" not in result.err


def test_the_runtime_a_bundle_lacks_is_made_from_its_graph(
    iris: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, _ = iris
    manifest = json.loads((bundle / "slpack.json").read_text())
    functions = runtime_functions(bundle, manifest, tmp_path)

    ours = functions["onnxruntime"]
    assert isinstance(ours, Function) and ours.shipped and ours.archive == bundle / "function.zip"
    made = functions["python"]
    assert isinstance(made, Function) and not made.shipped
    program = made.task_root / "model" / "model.pyrt"
    made_manifest = json.loads((made.task_root / "model" / "slpack.json").read_text())
    assert made_manifest["runtime"]["name"] == "python"
    assert made_manifest["model"]["file"] == "model.pyrt"
    assert made_manifest["model"]["sha256"] == hashlib.sha256(program.read_bytes()).hexdigest()
    assert made_manifest["files"]["model/model.pyrt"] == made_manifest["model"]["sha256"]
    assert "model/model.onnx" not in made_manifest["files"]
    assert not (made.task_root / "model" / "model.onnx").exists()
    handler = sorted(
        p.relative_to(made.task_root) for p in made.task_root.rglob("slpack_handler/*")
    )
    assert handler == sorted(
        p.relative_to(ours.task_root) for p in ours.task_root.rglob("slpack_handler/*")
    )  # the same handler, only the model differs
    assert {k: v for k, v in made_manifest.items() if k not in ("model", "runtime", "files")} == {
        k: v for k, v in manifest.items() if k not in ("model", "runtime", "files")
    }


def test_a_runtime_that_cannot_run_the_graph_is_not_applicable(
    iris: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lacks(model: Any) -> Any:
        raise runtimes.UnsupportedGraph("no", ["TreeEnsembleFancy", "Scan"])

    monkeypatch.setattr(runtimes, "python_artifact", lacks)
    bundle, _ = iris
    manifest = json.loads((bundle / "slpack.json").read_text())
    functions = runtime_functions(bundle, manifest, tmp_path)
    assert isinstance(functions["onnxruntime"], Function)
    assert str(functions["python"]) == "the python runtime lacks TreeEnsembleFancy, Scan"
    assert not (tmp_path / "python").exists()


def test_the_report_says_what_was_not_applicable_and_why() -> None:
    """Ratios and aims of a runtime that was not measured are null, with the reason shown."""
    result = _result(not_applicable={"python": "the python runtime lacks Scan"})
    report = to_json(result)

    assert report["targets"]["python"] == {
        "applicable": False,
        "reason": "the python runtime lacks Scan",
    }
    assert (
        "python" not in report["cold_start_ms"]
        and report["figures"]["cold_start"]["python"] is None
    )
    for metric, by_pair in report["ratios"].items():
        missing = [pair for pair, ratio in by_pair.items() if ratio is None]
        assert missing == [pair for pair in PAIRS if "python" in pair], metric
    assert report["ratios"]["cold_start"]["onnxruntime/session"] == pytest.approx(1.1)
    python_aims = [a for a in report["aims"] if a["runtime"] == "python"]
    assert python_aims and all(
        a["measured"] is None
        and a["met"] is None
        and a["reason"] == "the python runtime lacks Scan"
        for a in python_aims
    )
    onnx_aims = {a["name"]: a["met"] for a in report["aims"] if a["runtime"] == "onnxruntime"}
    assert onnx_aims == {
        "onnxruntime: cold start / its floor": True,
        "onnxruntime: cold start, scikit-learn / onnxruntime": True,
        "onnxruntime: warm 1 row p50 / session.run": False,
    }
    markdown = to_markdown(report)
    assert "- python: not applicable, the python runtime lacks Scan" in markdown
    assert "| cold start, ms | n/a |" in markdown


def _result(not_applicable: dict[str, str]) -> BenchResult:
    """A run's raw measurements, made up: onnxruntime at 1.1x its floor, scikit-learn 10x."""
    cold_ms = {
        "python": 30.0,
        "onnxruntime": 110.0,
        "sklearn": 1100.0,
        "interpreter": 20.0,
        "session": 100.0,
    }
    warm_ms = {"python": 0.05, "onnxruntime": 0.04, "sklearn": 1.0, "session": 0.01}
    measured = [t for t in TARGETS if t not in not_applicable]
    phases = {"startup": 5.0, "driver": 5.0, "first_call": 1.0}
    result = BenchResult(
        bundle={
            "name": "m",
            "estimator": "LogisticRegression",
            "runtime": "onnxruntime",
            "made": [],
        },
        environment={"python": "3.11", "machine": "x86_64", "cpus": 2},
        options=BenchOptions(runs=2, requests=3),
        not_applicable=dict(not_applicable),
    )
    result.cold = {
        t: [ColdStart(cold_ms[t], phases, 50.0, 100, None) for _ in range(2)] for t in measured
    }
    result.warm_ms = {
        name: {t: [v] * 3 for t, v in warm_ms.items() if t in measured}
        for name in ("single", "batch")
    }
    size = Size(2_000_000, 1_000_000)
    result.sizes = {
        "onnxruntime": {"function": size, "layer": size},
        "sklearn": {"function": size, "stack": size},
        "session": {"layer": size, "model": size},
    }
    return result


def test_bench_needs_the_baseline_model(iris: tuple[Path, Path], run_cli: Any) -> None:
    result = run_cli("bench", iris[0])
    assert result.code == 1 and "--baseline" in result.err


def test_the_baseline_handler_answers_slpacks_request_shapes(
    iris: tuple[Path, Path], tmp_path: Path
) -> None:
    """The baseline reads the same events and bodies and answers the same response shape."""
    bundle, model_path = iris
    manifest = json.loads((bundle / "slpack.json").read_text())
    model, sample = COVERAGE["standard-scaler-logreg"]()
    work = make_workload(manifest, sample, batch_size=5)
    baseline = write_baseline(model_path, model, work.rows[BATCH], manifest, tmp_path / "baseline")
    assert baseline.needs_pandas  # trained on a DataFrame: the stack must carry pandas
    handler = _import(baseline.task_root / "lambda_function.py").lambda_handler

    http = handler(work.events[BATCH], None)
    assert http["statusCode"] == 200 and http["headers"]["content-type"] == "application/json"
    body = json.loads(http["body"])
    assert body["model"] == {
        "name": "iris",
        "version": manifest["version"],
        "sha256": manifest["model"]["sha256"],
    }
    expected = model.predict_proba(sample.head(5))
    got = np.array(
        [[p["probabilities"][str(c)] for c in model.classes_] for p in body["predictions"]]
    )
    np.testing.assert_allclose(got, expected)
    assert [p["label"] for p in body["predictions"]] == model.predict(sample.head(5)).tolist()

    columnar = {"inputs": {k: [r[k] for r in work.rows[BATCH]] for k in work.rows[BATCH][0]}}
    assert handler(columnar, None)["predictions"] == body["predictions"]  # direct invocation
    assert handler({"instances": work.rows[SINGLE]}, None)["predictions"] == body["predictions"][:1]
    assert handler({"rows": []}, None)["error"]["code"] == "invalid_request"


def test_workload_follows_the_manifest_layout() -> None:
    features = [
        {
            "name": "age",
            "onnx_name": "age",
            "type": "number",
            "dtype": "float32",
            "role": "numeric",
        },
        {
            "name": "visits",
            "onnx_name": "visits",
            "type": "integer",
            "dtype": "int64",
            "role": "numeric",
        },
        {
            "name": "member",
            "onnx_name": "member",
            "type": "boolean",
            "dtype": "bool",
            "role": "boolean",
        },
        {
            "name": "plan",
            "onnx_name": "plan",
            "type": "string",
            "dtype": "string",
            "role": "categorical",
            "categories": ["basic", "pro"],
        },
        {
            "name": "note",
            "onnx_name": "note_0",
            "type": "string",
            "dtype": "string",
            "role": "text",
        },
    ]
    stats = {
        "age": {"quantiles": {"0.25": 30.5, "0.5": 41.0}},
        "visits": {"quantiles": {"0.5": 3.7}},
        "note": {"mean_length": 30},
    }
    manifest = {
        "input": {"layout": "columns", "tensor": None, "features": features},
        "stats": stats,
    }
    work = make_workload(manifest, None, batch_size=4)

    rows = work.rows[BATCH]
    assert len(rows) == 4 and work.rows[SINGLE] == rows[:1]
    assert [r["age"] for r in rows] == [30.5, 41.0, 30.5, 41.0] and {r["visits"] for r in rows} == {
        4
    }
    assert [r["plan"] for r in rows] == ["basic", "pro", "basic", "pro"] and all(
        isinstance(r["member"], bool) for r in rows
    )
    assert all(isinstance(r["note"], str) and r["note"] for r in rows)
    assert json.loads(work.events[BATCH]["body"]) == {"instances": rows}
    feeds = work.feeds[BATCH]
    assert set(feeds) == {"age", "visits", "member", "plan", "note_0"}
    assert feeds["visits"] == {"dtype": "int64", "shape": [4, 1], "values": [4, 4, 4, 4]}

    tensor = {
        "layout": "tensor",
        "tensor": {"name": "X", "dtype": "float32", "width": 2},
        "features": features[:2],
    }
    feeds = make_workload({"input": tensor, "stats": stats}, None, batch_size=3).feeds[SINGLE]
    assert feeds == {"X": {"dtype": "float32", "shape": [1, 2], "values": [30.5, 4]}}


def _import(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_THREADS = """
import os, sys
sys.path[:0] = sys.argv[1:]
import {module}
print(os.environ.get("OPENBLAS_NUM_THREADS"), len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_the_onnxruntime_runtime_starts_no_idle_blas_threads(host_layer_dir: Path) -> None:
    """numpy's OpenBLAS would start a busy-waiting worker per extra CPU during the cold start
    (docs/bench.md); the runtime asks for none, unless the deployer set a number."""

    def run(module: str, **env: str) -> list[str]:
        script = _THREADS.format(module=module)
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", script, str(host_layer_dir), str(HANDLERS)],
            env={"PATH": os.environ.get("PATH", ""), **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    env_value, threads = run("slpack_handler.runtime_onnx")
    assert env_value == "1"
    _, plain = run("numpy, onnxruntime")
    if len(os.sched_getaffinity(0)) > 1:  # OpenBLAS starts no worker on one CPU anyway
        assert int(threads) < int(plain)
    assert run("slpack_handler.runtime_onnx", OPENBLAS_NUM_THREADS="2")[0] == "2"
