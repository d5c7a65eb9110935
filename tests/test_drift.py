"""Drift at the endpoint: the baseline a build writes, the sketches the handler adds to its metric
record, and ``slpack drift`` reading them back (docs/drift.md).

The end-to-end test serves rows drawn from the baseline's data, then a shifted copy of them,
through the handler shipped in function.zip (a fresh interpreter, EMF on stdout, as on Lambda)
and asks ``slpack drift`` which features moved.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from bisect import bisect_right
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import CliResult, unpack_function
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from slpack.bundler import build_bundle
from slpack.bundler.baseline import MIN_BIN_ROWS
from slpack.drift.psi import psi
from slpack.drift.records import scan
from slpack_handler.app import App
from slpack_handler.config import Settings
from slpack_handler.contract import DRIFT_PROPERTY

PLANS = ["basic", "plus", "pro"]


def churn_rows(n: int, seed: int) -> pd.DataFrame:
    """Churn-like rows: whole, skewed and normal numbers, two categorical columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n),
            "monthly_spend": rng.gamma(2.0, 30.0, n).round(2),
            "visits": rng.normal(20.0, 5.0, n).round(1),
            "plan": rng.choice(PLANS, n, p=[0.55, 0.3, 0.15]),
            "region": rng.choice(["eu", "us", "apac"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def churn_model(train: pd.DataFrame) -> Any:
    y = ((train["monthly_spend"] > 60) ^ (train["plan"] == "pro")).astype(int)
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["tenure", "monthly_spend", "visits"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(train, y)


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A churn bundle whose baseline is its training set (``--baseline``), the sample smaller."""
    root = tmp_path_factory.mktemp("drift")
    train = churn_rows(3000, seed=1)
    train.to_csv(root / "train.csv", index=False)
    model = churn_model(train)
    result = build_bundle(
        model,
        train.head(300),
        root / "dist",
        name="churn",
        runtime="python",
        baseline=root / "train.csv",
    )
    return {"root": root, "bundle": result.bundle_dir, "manifest": result.manifest, "model": model}


# -- the baseline -----------------------------------------------------------------------------


def test_the_baseline_describes_the_baseline_file_per_feature_and_prediction(
    churn: dict[str, Any],
) -> None:
    baseline = churn["manifest"]["baseline"]
    assert baseline["source"] == "train.csv" and baseline["rows"] == 3000
    kinds = {f["name"]: f["kind"] for f in baseline["features"]}
    assert kinds == {
        "tenure": "number",
        "monthly_spend": "number",
        "visits": "number",
        "plan": "category",
        "region": "category",
    }
    train = pd.read_csv(churn["root"] / "train.csv")
    for entry in baseline["features"]:
        shares = entry["shares"]
        assert all(s > 0 for s in shares) and abs(sum(shares) - 1) < 1e-3
        if entry["kind"] == "number":
            edges = entry["edges"]
            assert 5 <= len(edges) <= 9 and edges == sorted(set(edges))
            counts = np.bincount(
                np.searchsorted(edges, train[entry["name"]], side="right"),
                minlength=len(edges) + 1,
            )
            assert counts.min() >= MIN_BIN_ROWS  # no edge singles out a row
    tenure = next(f for f in baseline["features"] if f["name"] == "tenure")
    assert all(float(e).is_integer() for e in tenure["edges"])  # whole numbers for integers
    plan = next(f for f in baseline["features"] if f["name"] == "plan")
    nullable = {f["name"]: f["nullable"] for f in churn["manifest"]["input"]["features"]}
    assert plan["categories"] == PLANS and plan["missing"] is nullable["plan"]
    assert abs(plan["shares"][0] - 0.55) < 0.03  # "basic", counted on the 3000 rows
    prediction = baseline["prediction"]
    assert prediction["kind"] == "class" and sorted(prediction["classes"]) == [0, 1]
    predicted = churn["model"].predict(train)
    first = prediction["classes"][0]
    assert abs(prediction["shares"][0] - float(np.mean(predicted == first))) < 1e-3


def test_the_baseline_holds_no_sample_value(tmp_path: Path) -> None:
    """Free text is binned by length, a category only by the model's own categories, and an
    edge is rounded: none of the sample's values reach the manifest."""
    rng = np.random.default_rng(7)
    n = 400
    words = ["alpha", "bravo", "charlie", "delta", "secret-customer-name"]
    frame = pd.DataFrame(
        {
            "amount": rng.normal(1000.0, 250.0, n) + rng.random(n) / 7,  # many decimals
            "comment": [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(n)],
            "city": rng.choice(["Lyon", "Porto", "Quito"], n),
        }
    )
    y = (frame["amount"] > 1000).astype(int)
    from sklearn.feature_extraction.text import CountVectorizer

    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["amount"]),
            ("txt", CountVectorizer(), "comment"),
            (
                "cat",
                OneHotEncoder(categories=[["Lyon", "Porto"]], handle_unknown="ignore"),
                ["city"],
            ),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(frame, y)
    manifest = build_bundle(model, frame, tmp_path, name="private", runtime="onnxruntime").manifest
    text = json.dumps(manifest["baseline"])
    assert "secret-customer-name" not in text and "alpha" not in text
    entries = {f["name"]: f for f in manifest["baseline"]["features"]}
    assert entries["comment"]["kind"] == "length"
    city = entries["city"]
    model_categories = next(f for f in manifest["input"]["features"] if f["name"] == "city")
    assert city["categories"] == model_categories["categories"] == ["Lyon", "Porto"]
    assert "Quito" not in text  # a sample value the model does not hold: in "other"
    assert not set(entries["amount"]["edges"]) & set(frame["amount"])


def test_a_missing_baseline_file_or_column_is_one_clear_error(
    churn: dict[str, Any], tmp_path: Path, run_cli: Any
) -> None:
    sample = churn["root"] / "train.csv"
    model_file = tmp_path / "model.joblib"
    import joblib

    joblib.dump(churn["model"], model_file)
    missing = run_cli(
        "build", model_file, "--sample", sample, "--baseline", tmp_path / "nope.csv",
        "--target", "none", "--out", tmp_path,
    )  # fmt: skip
    assert missing.code == 1 and "--baseline file" in missing.err and "Traceback" not in missing.err
    pd.read_csv(sample).drop(columns=["plan"]).to_csv(tmp_path / "partial.csv", index=False)
    partial = run_cli(
        "build", model_file, "--sample", sample, "--baseline", tmp_path / "partial.csv",
        "--target", "none", "--out", tmp_path,
    )  # fmt: skip
    assert partial.code == 1 and "lacks column(s) plan" in partial.err


# -- the handler's sketch ---------------------------------------------------------------------


def _emf_lines(app: App, bodies: list[Any]) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for body in bodies:
            response = app.handle_http("POST", "/", {}, json.dumps(body).encode())
            assert response.status == 200, response.body
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _expected_bins(baseline: dict[str, Any], row: dict[str, Any]) -> list[int]:
    """Each feature's bin of ``row``, worked out here independently of the handler."""
    found = []
    for entry in baseline["features"]:
        value = row[entry["name"]]
        if entry["kind"] == "number":
            found.append(bisect_right(entry["edges"], value))
        else:
            cats = entry["categories"]
            found.append(cats.index(value) if value in cats else len(cats))
    return found


def test_each_request_adds_its_bins_to_the_emf_line(churn: dict[str, Any]) -> None:
    manifest, bundle = churn["manifest"], churn["bundle"]
    app = App(Settings(model_dir=str(bundle), metrics="emf"))
    rows = churn_rows(5, seed=9).to_dict("records")
    rows[0]["plan"] = "enterprise"  # unknown: the "other" bin
    lines = _emf_lines(app, [{"instances": [r]} for r in rows])
    baseline = manifest["baseline"]
    for row, line in zip(rows, lines):
        tokens = line[DRIFT_PROPERTY].split(" ")
        assert len(tokens) == len(baseline["features"]) + 1  # and the prediction
        for token, index in zip(tokens, _expected_bins(baseline, row)):
            counts = [int(c) for c in token.split(",")]
            assert sum(counts) == 1 and counts[index] == 1
        (bin_metric,) = [k for k in line if k.startswith("PredictionBin")]
        directive = line["_aws"]["CloudWatchMetrics"]
        assert len(directive) == 2 and directive[1]["Dimensions"] == [["FunctionName", "Resource"]]
        assert directive[1]["Metrics"] == [{"Name": bin_metric, "Unit": "Count"}]
        assert bin_metric not in {m["Name"] for m in directive[0]["Metrics"]}
    assert len(json.dumps(lines[-1])) < 1500  # one line per request stays small


def test_a_batch_sketch_is_the_sum_of_its_rows_sketches(churn: dict[str, Any]) -> None:
    app = App(Settings(model_dir=str(churn["bundle"]), metrics="log"))
    frame = churn_rows(120, seed=4)
    frame.loc[::7, "plan"] = "enterprise"
    rows = frame.to_dict("records")
    singles = _emf_lines(app, [{"instances": [r]} for r in rows])
    (batch,) = _emf_lines(app, [{"instances": rows}])

    def counts(record: dict[str, Any]) -> list[list[int]]:
        sketch = record["metrics"][DRIFT_PROPERTY]
        return [[int(c) for c in token.split(",")] for token in sketch.split(" ")]

    summed = [list(map(sum, zip(*parts))) for parts in zip(*(counts(s) for s in singles))]
    assert counts(batch) == summed
    bins = {k: v for k, v in batch["metrics"].items() if k.startswith("PredictionBin")}
    assert sum(bins.values()) == len(rows)


def test_a_column_counts_as_its_values_do_one_by_one() -> None:
    """Batches count by sorting (or, for the numpy columns onnxruntime's bulk check made, with
    numpy); either way as the single-row bisect bins each value, edges included."""
    from slpack_handler.drift import category_bins, length_bins, number_bins

    values = [0.5, 1.0, 2.5, 2.4999, 4.0, 7, 1, 3, -2.0]  # on the edges too
    bins = number_bins([1.0, 2.5, 4.0], missing=True)
    one_by_one = [0] * bins.size
    for v in [*values, None]:
        one_by_one[bins.bin(v)] += 1
    assert bins.count([*values, None]) == one_by_one
    assert bins.count_array(np.array(values)) == [*one_by_one[:-1], 0]
    text = length_bins([3.0, 10.0], missing=False)
    assert text.count(["ab", "abc", "a" * 10, "a" * 9]) == [1, 2, 1]
    cats = category_bins(["x", "y"], missing=True)
    assert cats.count(["y", "z", None, "y"]) == [0, 2, 1, 1]
    assert [cats.bin(v) for v in ("x", "z", None)] == [0, 2, 3]


def test_sketches_follow_the_switch_the_sink_and_the_cache(churn: dict[str, Any]) -> None:
    body = {"instances": churn_rows(1, seed=2).to_dict("records")}
    bundle = str(churn["bundle"])
    off = App(Settings(model_dir=bundle, metrics="emf", drift=False))
    (line,) = _emf_lines(off, [body])
    assert DRIFT_PROPERTY not in line and not any(k.startswith("PredictionBin") for k in line)
    cached = App(Settings(model_dir=bundle, metrics="emf", cache_size=8))
    first, hit = _emf_lines(cached, [body, body])
    assert hit["CacheHits"] == 1 and hit[DRIFT_PROPERTY] == first[DRIFT_PROPERTY]
    assert Settings.from_env({"SLPACK_DRIFT": "0"}).drift is False
    assert Settings.from_env({"SLPACK_DRIFT": "maybe"}).problems


def test_an_unreadable_baseline_costs_the_sketches_not_the_requests(
    churn: dict[str, Any], tmp_path: Path
) -> None:
    manifest = json.loads((churn["bundle"] / "slpack.json").read_text())
    manifest["baseline"]["features"][0]["kind"] = "spline"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "slpack.json").write_text(json.dumps(manifest))
    artifact = manifest["model"]["file"]
    (model_dir / artifact).write_bytes((churn["bundle"] / artifact).read_bytes())
    app = App(Settings(model_dir=str(model_dir), metrics="emf"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        response = app.handle_http(
            "POST", "/", {}, json.dumps({"instances": churn_rows(1, 3).to_dict("records")}).encode()
        )
    assert response.status == 200
    assert "drift baseline cannot be read" in out.getvalue()
    assert f'"{DRIFT_PROPERTY}"' not in out.getvalue().splitlines()[-1]


# -- served through the real handler, read back by slpack drift --------------------------------

_DRIVER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import slpack_handler
    answered = 0
    for line in sys.stdin:
        out = slpack_handler.handler(json.loads(line), None)
        answered += out["statusCode"] == 200
    sys.stderr.write(f"answered {answered}\\n")
    """
)


def _url_event(body: Any) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def serve(bundle: Path, rows: pd.DataFrame, tmp: Path) -> str:
    """Send ``rows`` to the bundled handler (one row per request, then batches of 50) and
    return what it wrote to stdout: its EMF lines, as CloudWatch Logs would receive them."""
    records = rows.to_dict("records")
    singles, batches = records[:300], records[300:]
    events = [_url_event({"instances": [r]}) for r in singles]
    events += [_url_event({"instances": batches[i : i + 50]}) for i in range(0, len(batches), 50)]
    task = tmp / "task"
    if not task.exists():
        unpack_function(bundle, task)
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(task)],
        input="".join(json.dumps(e) + "\n" for e in events),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SLPACK_METRICS": "emf", "AWS_LAMBDA_FUNCTION_NAME": "churn"},
        cwd=tmp,
    )
    assert proc.returncode == 0 and f"answered {len(events)}" in proc.stderr, proc.stderr[-2000:]
    return proc.stdout


def _psi(result: CliResult) -> dict[str, float]:
    report = json.loads(result.out)
    rows = [*report["features"], report["prediction"]]
    return {r["name"]: r["psi"] for r in rows}


def shifted_copy(rows: pd.DataFrame) -> pd.DataFrame:
    """The same rows with one number moved (spend x1.8) and one category's share changed (60 %
    of the "basic" rows become "pro")."""
    moved = rows.copy()
    moved["monthly_spend"] = (moved["monthly_spend"] * 1.8).round(2)
    flip = (moved["plan"] == "basic") & (np.random.default_rng(12).random(len(moved)) < 0.6)
    moved.loc[flip, "plan"] = "pro"
    return moved


@pytest.mark.slow
def test_drift_finds_exactly_the_shifted_features_in_the_logs(
    churn: dict[str, Any], tmp_path: Path, run_cli: Any
) -> None:
    bundle = churn["bundle"]
    drawn = pd.read_csv(churn["root"] / "train.csv").sample(600, random_state=11)
    moved_rows = shifted_copy(drawn.reset_index(drop=True))
    same = tmp_path / "same.jsonl"
    same.write_text(serve(bundle, drawn, tmp_path))
    shifted = tmp_path / "shifted.jsonl"
    shifted.write_text(serve(bundle, moved_rows, tmp_path))

    stable = run_cli("drift", bundle, "--logs", same, "--json", "--fail-above", "0.25")
    assert stable.code == 0, stable.err
    assert all(value < 0.1 for value in _psi(stable).values()), _psi(stable)
    assert json.loads(stable.out)["source"].startswith("306 requests")

    moved = run_cli("drift", bundle, "--logs", shifted, "--json")
    assert moved.code == 0, moved.err
    found = _psi(moved)
    assert {name for name, value in found.items() if value > 0.25} >= {"monthly_spend", "plan"}
    features = {k: v for k, v in found.items() if k != "prediction"}
    assert {k for k, v in features.items() if v > 0.25} == {"monthly_spend", "plan"}
    assert all(v < 0.1 for k, v in features.items() if k not in ("monthly_spend", "plan"))
    plan = next(r for r in json.loads(moved.out)["features"] if r["name"] == "plan")
    assert plan["shifts"][0]["bin"] in ("basic", "pro") and plan["verdict"] == "shifted"

    gate = run_cli("drift", bundle, "--logs", shifted, "--fail-above", "0.25")
    assert gate.code == 3 and "monthly_spend" in gate.err and "plan" in gate.err
    assert "monthly_spend" in gate.out and "shifted" in gate.out  # the table

    # The same rows, offline, before serving them: the same verdicts from --data.
    moved_rows.to_csv(tmp_path / "batch.csv", index=False)
    offline = run_cli("drift", bundle, "--data", tmp_path / "batch.csv", "--json")
    assert offline.code == 0, offline.err
    assert {k for k, v in _psi(offline).items() if v > 0.25} == {
        k for k, v in found.items() if v > 0.25
    }


def test_drift_reads_every_export_shape() -> None:
    sketch = "0,1 1,0,0"
    emf = {"_aws": {}, "ModelVersion": "v1", DRIFT_PROPERTY: sketch}
    log = {"metrics": {"ModelVersion": "v1", DRIFT_PROPERTY: sketch}}
    gcp_line = {
        "severity": "INFO",
        "message": "slpack metrics",
        "logging.googleapis.com/labels": {"ModelVersion": "v2"},
        "metrics": {DRIFT_PROPERTY: sketch},
    }
    gcloud = [
        {"jsonPayload": {"metrics": {DRIFT_PROPERTY: sketch}}, "labels": {"ModelVersion": "v3"}}
    ]
    filter_log_events = {"events": [{"message": json.dumps(emf)}], "searchedLogStreams": []}
    insights = [
        [{"field": "@timestamp", "value": "x"}, {"field": "@message", "value": json.dumps(emf)}]
    ]
    lambda_json = {"time": "t", "type": "platform.x", "message": json.dumps(log)}
    lines = "\n".join(
        [
            "START RequestId: 1 Version: $LATEST",
            json.dumps(emf),
            json.dumps(log),
            json.dumps(gcp_line),
            json.dumps(lambda_json),
            "2024-01-01T00:00:00Z\t" + json.dumps(emf),
            "REPORT RequestId: 1 Duration: 2 ms",
        ]
    )
    found = scan(lines)
    assert [r.version for r in found.records] == ["v1", "v1", "v2", "v1", "v1"]
    assert found.unreadable == 2 and all(r.sketch == sketch for r in found.records)
    for document, version in ((gcloud, "v3"), (filter_log_events, "v1"), (insights, "v1")):
        (record,) = scan(json.dumps(document, indent=2)).records
        assert (record.sketch, record.version) == (sketch, version)


def test_drift_errors_are_one_line(churn: dict[str, Any], tmp_path: Path, run_cli: Any) -> None:
    bundle = churn["bundle"]
    empty = tmp_path / "empty.log"
    empty.write_text("START RequestId: 1\nnot json\n")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"ModelVersion": "elsewhere", DRIFT_PROPERTY: "1"}) + "\n")
    wrong = tmp_path / "wrong.jsonl"
    version = churn["manifest"]["version"]
    wrong.write_text(json.dumps({"ModelVersion": version, DRIFT_PROPERTY: "1,2 3"}) + "\n")
    cases = [
        (("--logs", empty), "no drift sketch of churn"),
        (("--logs", other), "1 of another model version"),
        (("--logs", wrong), "1 not of this bundle's layout"),
        (("--logs", tmp_path / "absent.jsonl"), "does not exist"),
        ((), "pass either --logs FILE"),
        (("--logs", empty, "--data", empty), "pass either --logs FILE"),
        (("--data", tmp_path / "absent.csv"), "does not exist"),
    ]
    for args, message in cases:
        result = run_cli("drift", bundle, *args)
        assert result.code == 1 and message in result.err, (args, result.err)
        assert "Traceback" not in result.err
    old = tmp_path / "old"
    old.mkdir()
    manifest = dict(churn["manifest"], baseline=None)
    (old / "slpack.json").write_text(json.dumps(manifest))
    result = run_cli("drift", old, "--logs", other)
    assert result.code == 1 and "has no drift baseline" in result.err


def test_psi_is_zero_without_traffic_and_grows_with_the_shift() -> None:
    shares = [0.5, 0.3, 0.2]
    assert abs(psi([0, 0, 0], shares)) < 1e-12
    assert psi([500, 300, 200], shares) < 1e-9
    small, large = psi([45, 35, 20], shares), psi([20, 30, 50], shares)
    assert 0 < small < 0.1 < 0.25 < large
