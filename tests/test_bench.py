"""``slpack bench``: the report's structure and the fairness of what it compares (never speeds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from pipelines import COVERAGE

from slpack.bench.baseline import write_baseline
from slpack.bench.workload import BATCH, SINGLE, make_workload
from slpack.bundler import build_bundle

TARGETS = ("slpack", "baseline", "floor")


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small classifier bundle and the joblib file it was built from."""
    root = tmp_path_factory.mktemp("bench")
    model, sample = COVERAGE["standard-scaler-logreg"]()
    joblib.dump(model, root / "iris.joblib")
    return build_bundle(model, sample, root / "dist", name="iris").bundle_dir, root / "iris.joblib"


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

    assert report["settings"]["runs"] == 3 and report["settings"]["requests"] == 200
    for target in TARGETS:
        cold = report["cold_start_ms"][target]
        assert len(cold["samples"]) == 3 and 0 < cold["min"] <= cold["median"] <= cold["max"]
        assert report["peak_rss_mib"][target]["median"] > 0
        phases = report["cold_start_phases_ms"][target]
        assert {"startup", "driver", "import", "first_call"} <= set(phases)
        assert (
            sum(phases.values()) <= cold["max"] * 1.01
        )  # the child's phases fit in the parent's clock
    assert "session" in report["cold_start_phases_ms"]["floor"]
    for name in ("single", "batch"):
        for target in ("slpack", "baseline", "session_run"):
            warm = report["warm_ms"][name][target]
            assert warm["n"] == 200 and 0 < warm["median"] <= warm["p99"] <= warm["max"]
    for side, parts in (("slpack", ("function", "layer")), ("baseline", ("function", "stack"))):
        sizes = report["size_bytes"][side]
        assert all(0 < sizes[p]["zipped"] < sizes[p]["unzipped"] for p in parts)
        assert sizes["total"]["unzipped"] == sum(sizes[p]["unzipped"] for p in parts)
    assert report["agreement"] == {
        "rows": 100,
        "label_agreement": 1.0,
        "max_abs_error": pytest.approx(0, abs=1e-4),
    }
    assert set(report["ratios"]) == {
        "cold_start",
        "warm_single_p50",
        "warm_single_p99",
        "warm_batch_p50",
        "warm_batch_p99",
        "size_unzipped",
        "size_zipped",
        "peak_rss",
    }
    assert len(report["aims"]) == 7 and all(
        isinstance(a["met"], bool) and a["measured"] > 0 for a in report["aims"]
    )
    ratio = report["ratios"]["cold_start"]["baseline_over_slpack"]
    assert ratio == pytest.approx(
        report["cold_start_ms"]["baseline"]["median"] / report["cold_start_ms"]["slpack"]["median"],
        rel=1e-3,
    )

    markdown = (out / "bench.md").read_text()
    assert "| cold start, ms |" in markdown and "| aim | measured | target |" in markdown
    assert "cold start" in result.out and "aims" in result.out


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
