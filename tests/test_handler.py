"""The function runtime: event shapes, both request shapes, every validation error, metrics,
hooks, the response cache, lazy and eager loading, faults, and an isolated interpreter run."""

from __future__ import annotations

import base64
import importlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import unpack_function
from pipelines import COVERAGE

from slpack.bundler import build_bundle
from slpack_handler.app import App
from slpack_handler.config import Settings
from slpack_handler.contract import DIMENSION_SETS
from slpack_handler.errors import first_line
from slpack_handler.metrics import MetricRecord, emf_line


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bundles")
    built = {}
    for case in ("mixed-logreg", "standard-scaler-logreg", "imputer-ridge", "pca-embedding"):
        model, sample = COVERAGE[case]()
        built[case] = build_bundle(model, sample, out, name=case, runtime="onnxruntime").bundle_dir
    return built


def make_app(bundle: Path, **settings: Any) -> App:
    return App(Settings(model_dir=str(bundle), metrics=settings.pop("metrics", "none"), **settings))


MIXED_ROW = {
    "age": 40.0,
    "monthly_spend": 55.2,
    "visits": 3,
    "is_member": True,
    "plan": "pro",
    "region": "eu",
    "tier": "low",
}


def http(
    app: App,
    body: Any,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = app.handle_http(
        method, path, headers or {"content-type": "application/json"}, raw, "req-1"
    )
    return response.status, json.loads(response.body)


# -- requests and responses -----------------------------------------------------------------


def test_integers_and_booleans_used_as_numbers_take_null_when_the_pipeline_imputes_them(
    bundles: dict[str, Path],
) -> None:
    """They are fed as floats (skl2onnx cannot concatenate an int column before a float one), so a
    missing value reaches the imputer as NaN, as in scikit-learn; their JSON types are still
    checked."""
    app = make_app(bundles["mixed-logreg"])
    features = {
        f["name"]: f
        for f in json.loads((bundles["mixed-logreg"] / "slpack.json").read_text())["input"][
            "features"
        ]
    }
    assert (
        features["visits"]["type"],
        features["visits"]["dtype"],
        features["visits"]["nullable"],
    ) == ("integer", "float32", True)
    assert (features["is_member"]["type"], features["is_member"]["dtype"]) == ("boolean", "float32")
    status, body = http(app, {"instances": [{**MIXED_ROW, "visits": None, "is_member": None}]})
    assert status == 200 and body["predictions"][0]["label"] in (0, 1)


def test_instances_and_columnar_inputs_give_the_same_answer(bundles: dict[str, Path]) -> None:
    app = make_app(bundles["mixed-logreg"])
    s1, r1 = http(app, {"instances": [MIXED_ROW, {**MIXED_ROW, "region": None, "age": None}]})
    s2, r2 = http(
        app,
        {"inputs": {k: [v, None if k in ("region", "age") else v] for k, v in MIXED_ROW.items()}},
    )
    assert s1 == s2 == 200
    assert r1 == r2
    prediction = r1["predictions"][0]
    assert prediction["label"] in (0, 1) and set(prediction["probabilities"]) == {"0", "1"}
    assert r1["model"]["name"] == "mixed-logreg" and len(r1["model"]["sha256"]) == 64


def test_tensor_models_take_lists_in_feature_order(bundles: dict[str, Path]) -> None:
    app = make_app(bundles["standard-scaler-logreg"])
    names = [
        f["name"]
        for f in json.loads((bundles["standard-scaler-logreg"] / "slpack.json").read_text())[
            "input"
        ]["features"]
    ]
    row = [5.1, 3.5, 1.4, 0.2]
    _, as_list = http(app, {"instances": [row]})
    _, as_record = http(app, {"instances": [dict(zip(names, row))]})
    assert as_list == as_record and as_list["predictions"][0]["label"] == 0


def test_regressor_and_transformer_shapes(bundles: dict[str, Path]) -> None:
    status, reg = http(
        make_app(bundles["imputer-ridge"]), {"instances": [[0.01] * 10, [None] * 10]}
    )
    assert status == 200 and all(isinstance(p["value"], float) for p in reg["predictions"])
    status, emb = http(
        make_app(bundles["pca-embedding"]),
        {"instances": [[13.0, 2.0, 2.4, 19.0, 100, 2.5, 2.5, 0.3, 1.6, 5.0, 1.0, 3.0, 800]]},
    )
    assert status == 200 and len(emb["predictions"][0]["embedding"]) == 3


def test_metadata_on_get(bundles: dict[str, Path]) -> None:
    status, meta = http(make_app(bundles["mixed-logreg"]), b"", method="GET", path="/metadata")
    assert status == 200 and meta["task"] == "classifier"
    plan = next(f for f in meta["input"]["features"] if f["name"] == "plan")
    assert plan["categories"] == ["basic", "plus", "pro"]


# -- validation: every error is a 4xx naming the field ---------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"instances": [{**MIXED_ROW, "age": "forty"}]}, 400, "wrong_type", "age"),
        ({"instances": [{**MIXED_ROW, "visits": 2.5}]}, 400, "wrong_type", "visits"),
        ({"instances": [{**MIXED_ROW, "is_member": 1}]}, 400, "wrong_type", "is_member"),
        ({"instances": [{**MIXED_ROW, "plan": 3}]}, 400, "wrong_type", "plan"),
        ({"instances": [{**MIXED_ROW, "tier": None}]}, 400, "null_not_allowed", "tier"),
        (
            {"instances": [{k: v for k, v in MIXED_ROW.items() if k != "tier"}]},
            400,
            "missing_field",
            "tier",
        ),
        ({"instances": [{**MIXED_ROW, "colour": "red"}]}, 400, "unknown_field", "colour"),
        ({"instances": [{**MIXED_ROW, "tier": "platinum"}]}, 400, "unknown_category", "tier"),
        ({"instances": [{**MIXED_ROW, "age": 1e39}]}, 400, "out_of_range", "age"),
        ({"instances": [{**MIXED_ROW, "plan": "x" * 20000}]}, 400, "too_long", "plan"),
        ({"instances": []}, 400, "invalid_request", None),
        ({"instances": [MIXED_ROW] * 1001}, 413, "batch_too_large", None),
        ({"instances": "rows"}, 400, "invalid_request", None),
        ({"rows": [MIXED_ROW]}, 400, "invalid_request", None),
        ({"inputs": {"age": [1.0, 2.0], "plan": ["pro"]}}, 400, "validation_failed", None),
        ([1, 2, 3], 400, "invalid_request", None),
    ],
)
def test_validation_errors(
    bundles: dict[str, Path], body: Any, status: int, code: str, field: str | None
) -> None:
    app = make_app(bundles["mixed-logreg"])
    got_status, payload = http(app, body)
    assert got_status == status
    error = payload["error"]
    assert error["request_id"] == "req-1" and error["message"]
    codes = {d["code"] for d in error["details"]} | {error["code"]}
    assert code in codes
    if field:
        assert any(d["field"] == field for d in error["details"])


def test_every_problem_is_listed_by_row_and_field(bundles: dict[str, Path]) -> None:
    app = make_app(bundles["mixed-logreg"])
    bad = [{**MIXED_ROW, "age": "x"}, MIXED_ROW, {**MIXED_ROW, "plan": None, "visits": "y"}]
    _, payload = http(app, {"instances": bad})
    found = {(d["row"], d["field"]) for d in payload["error"]["details"]}
    assert found == {(0, "age"), (2, "visits")}  # plan is nullable (the pipeline imputes it)
    # a malformed row does not hide the value problems of the others, nor its own known fields'
    bad = [{**MIXED_ROW, "age": "old", "colour": 1}, "not a row", {**MIXED_ROW, "tier": 3}]
    _, payload = http(app, {"instances": bad})
    found = {(d["row"], d["field"], d["code"]) for d in payload["error"]["details"]}
    assert found == {
        (0, "colour", "unknown_field"),
        (0, "age", "wrong_type"),
        (1, None, "wrong_type"),
        (2, "tier", "wrong_type"),
    }


def test_batches_checked_in_bulk_agree_with_rows_checked_one_by_one(
    bundles: dict[str, Path],
) -> None:
    """From BULK_ROWS rows number columns are checked with numpy: same answers, counts and
    problems."""
    from slpack_handler.schema import BULK_ROWS

    app = make_app(bundles["mixed-logreg"])
    rows = [
        {**MIXED_ROW, "age": 10.0 + 9 * i, "monthly_spend": 3.5 * i, "visits": i % 7}
        for i in range(BULK_ROWS + 8)
    ]
    model = app.model()
    schema = model.schema
    parsed = schema.parse({"instances": rows})
    assert len(parsed.arrays) == 2, "age and monthly_spend took the bulk path"
    assert (
        parsed.out_of_range
        == sum(schema.parse({"instances": [row]}).out_of_range for row in rows)
        > 0
    )
    _assert_same_feeds(model, rows)

    bad = [dict(row) for row in rows]
    bad[3]["age"], bad[20]["monthly_spend"], bad[33]["age"], bad[35]["monthly_spend"] = (
        1e39,
        True,
        10**400,
        None,
    )
    status, payload = http(app, {"instances": bad})
    found = {(d["row"], d["field"], d["code"]) for d in payload["error"]["details"]}
    assert status == 400 and found == {
        (3, "age", "out_of_range"),
        (20, "monthly_spend", "wrong_type"),
        (33, "age", "out_of_range"),
    }  # monthly_spend is nullable: row 35 is a missing value, not a problem
    status, payload = app.handle_direct({"instances": [{**row, "age": math.nan} for row in rows]})
    assert status == 400 and {d["code"] for d in payload["error"]["details"]} == {"not_finite"}

    matrix = [
        [13.0 + i / 10, 2.0, 2.4, 19.0, 100, 2.5, 2.5, 0.3, 1.6, 5.0, 1.0, 3.0, 800 + i]
        for i in range(BULK_ROWS)
    ]
    _assert_same_feeds(make_app(bundles["pca-embedding"]).model(), matrix)


def _assert_same_feeds(model: Any, rows: list[Any]) -> None:
    """The onnxruntime feeds of a bulk-checked batch equal those of its rows checked one by one."""
    schema, feeds = model.schema, model.runtime.feeds
    batch = feeds(schema.parse({"instances": rows}))
    singles = [feeds(schema.parse({"instances": [row]})) for row in rows]
    for name, array in batch.items():
        stacked = np.concatenate([one[name] for one in singles])
        assert array.dtype == stacked.dtype and array.flags.c_contiguous
        assert np.array_equal(array, stacked), name


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "invalid_json"),
        (b'{"instances": [{"age": NaN}]}', {}, 400, "invalid_json"),
        (b"", {}, 400, "invalid_json"),
        (b"<xml/>", {"content-type": "application/xml"}, 415, "unsupported_media_type"),
        (b"[" * 100000 + b"]" * 100000, {}, 413, "payload_too_large"),
        (b"[" * 50000 + b"]" * 50000, {}, 400, "invalid_json"),
    ],
)
def test_http_level_errors(
    bundles: dict[str, Path], raw: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    app = make_app(bundles["mixed-logreg"], max_body_bytes=150_000)
    got, payload = http(app, raw, headers=headers)
    assert (got, payload["error"]["code"]) == (status, code)


def test_methods_and_paths(bundles: dict[str, Path]) -> None:
    app = make_app(bundles["mixed-logreg"])
    assert http(app, b"", method="DELETE")[0] == 405
    assert http(app, b"", method="GET", path="/nowhere")[0] == 404
    assert http(app, {"instances": [MIXED_ROW]}, path="/prod/predict")[0] == 200


# -- Lambda events -------------------------------------------------------------------------


@pytest.fixture
def lambda_module(bundles: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SLPACK_MODEL_DIR", str(bundles["mixed-logreg"]))
    monkeypatch.setenv("SLPACK_METRICS", "none")
    import slpack_handler.app as app_module

    monkeypatch.setattr(app_module, "_app", None)
    return importlib.import_module("slpack_handler")


BODY = json.dumps({"instances": [MIXED_ROW]})


@pytest.mark.parametrize(
    "event",
    [
        {
            "httpMethod": "POST",
            "path": "/",
            "headers": {"Content-Type": "application/json"},
            "body": BODY,
            "isBase64Encoded": False,
            "requestContext": {"requestId": "r1", "stage": "prod"},
        },
        {
            "version": "2.0",
            "rawPath": "/",
            "headers": {"content-type": "application/json"},
            "body": BODY,
            "isBase64Encoded": False,
            "requestContext": {"requestId": "r2", "http": {"method": "POST", "path": "/"}},
        },
        {
            "version": "2.0",
            "rawPath": "/",
            "headers": {},
            "body": base64.b64encode(BODY.encode()).decode(),
            "isBase64Encoded": True,
            "requestContext": {"http": {"method": "POST", "path": "/"}},
        },
        {
            "httpMethod": "POST",
            "path": "/",
            "headers": {"content-type": "application/json"},
            "body": BODY,
            "isBase64Encoded": False,
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}},
        },
    ],
    ids=["apigw-v1", "http-api-v2", "function-url-base64", "alb"],
)
def test_http_event_shapes(lambda_module: Any, event: dict[str, Any]) -> None:
    response = lambda_module.handler(event, None)
    assert (
        response["statusCode"] == 200 and response["headers"]["content-type"] == "application/json"
    )
    assert json.loads(response["body"])["predictions"][0]["label"] in (0, 1)
    if "elb" in event["requestContext"]:
        assert response["statusDescription"] == "200 OK"


def test_direct_invocation_and_its_errors(lambda_module: Any) -> None:
    ok = lambda_module.handler({"instances": [MIXED_ROW]}, None)
    assert "predictions" in ok
    bad = lambda_module.handler({"instances": [{"age": 1}]}, None)
    assert bad["statusCode"] == 400 and bad["error"]["code"] == "validation_failed"


def test_invalid_base64_is_a_400(lambda_module: Any) -> None:
    event = {
        "version": "2.0",
        "rawPath": "/",
        "body": "###",
        "isBase64Encoded": True,
        "requestContext": {"http": {"method": "POST"}},
    }
    response = lambda_module.handler(event, None)
    assert (
        response["statusCode"] == 400
        and "base64" in json.loads(response["body"])["error"]["message"]
    )


def test_lambda_context_request_id_is_used(lambda_module: Any) -> None:
    class Context:
        aws_request_id = "ctx-123"

    response = lambda_module.handler({"instances": [{"age": "x"}]}, Context())
    assert response["error"]["request_id"] == "ctx-123"


# -- metrics and hooks ---------------------------------------------------------------------


def test_emf_line_follows_the_specification() -> None:
    record = MetricRecord()
    record.add("TotalMs", 1.5)
    record.add("ColdStart", 1)
    record.properties["requestId"] = "r"
    line = json.loads(
        emf_line(
            record,
            "slpack",
            {"FunctionName": "f", "ModelName": "m", "ModelVersion": "v", "Resource": "f:live"},
            1700000000000,
        )
    )
    aws = line["_aws"]
    assert isinstance(aws["Timestamp"], int)
    (directive,) = aws["CloudWatchMetrics"]
    assert directive["Namespace"] == "slpack" and directive["Dimensions"] == [
        list(names) for names in DIMENSION_SETS
    ]
    for metric in directive["Metrics"]:
        assert metric["Name"] in line and isinstance(line[metric["Name"]], (int, float))
        assert metric["Unit"] in ("Milliseconds", "Count", "None")
    for names in DIMENSION_SETS:  # every dimension referenced must be a top-level string member
        assert all(isinstance(line[dimension], str) for dimension in names) and len(names) <= 30
    assert len(directive["Metrics"]) <= 100


def test_one_emf_line_per_invocation_with_cold_start_once(
    bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(bundles["mixed-logreg"], metrics="emf", function_name="churn-fn")
    capsys.readouterr()
    http(
        app,
        {
            "instances": [
                MIXED_ROW,
                {**MIXED_ROW, "plan": "enterprise", "age": 500.0, "region": None},
            ]
        },
    )
    http(app, {"instances": [{"age": "x"}]})
    lines = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    assert len(lines) == 2
    first, second = lines
    assert first["ColdStart"] == 1 and "ColdStart" not in second
    assert first["ModelLoadMs"] > 0 and first["BatchSize"] == 2 and first["InferenceMs"] >= 0
    assert (first["UnknownCategory"], first["OutOfRange"], first["MissingValue"]) == (1, 1, 1)
    assert first["FunctionName"] == "churn-fn" and first["ModelName"] == "mixed-logreg"
    assert second["ValidationErrors"] == 1 and second["Errors"] == 0 and second["statusCode"] == 400


_HOOKS = """
import time
received = []
def record(r): received.append(r)
def boom(r): raise RuntimeError("hook failed")
def slow(r): time.sleep(2)
"""


def test_hooks_receive_the_record_and_a_failing_or_hanging_hook_never_fails_the_request(
    bundles: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "my_hooks.py").write_text(_HOOKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    app = make_app(
        bundles["mixed-logreg"],
        hooks=("my_hooks:record", "my_hooks:boom", "my_hooks:slow", "no_such_module:x"),
        hook_timeout_ms=50,
    )
    started = time.perf_counter()
    for _ in range(3):
        assert http(app, {"instances": [MIXED_ROW]})[0] == 200
    assert time.perf_counter() - started < 1.5  # the slow hook was not waited for
    import my_hooks  # type: ignore[import-not-found]

    assert len(my_hooks.received) == 3 and my_hooks.received[0]["ModelName"] == "mixed-logreg"
    log = capsys.readouterr().out
    assert log.count("my_hooks:boom raised") == 1  # reported once
    assert "no_such_module:x could not be loaded" in log


# -- cache -----------------------------------------------------------------------------------


def test_response_cache_hits_and_bad_requests_never_enter(
    bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(bundles["mixed-logreg"], cache_size=2, metrics="log")
    body = {"instances": [MIXED_ROW]}
    first, second = http(app, body)[1], http(app, body)[1]
    assert first == second
    http(app, {"instances": [{"age": "x"}]})
    assert len(app.cache) == 1  # type: ignore[arg-type]
    for i in range(3):
        http(app, {"instances": [{**MIXED_ROW, "visits": i + 10}]})
    assert len(app.cache) == 2  # type: ignore[arg-type]
    records = [
        json.loads(line)["metrics"]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"metrics"')
    ]
    assert [r.get("CacheHits") for r in records[:2]] == [0, 1]


def test_cache_entries_expire() -> None:
    from slpack_handler.cache import ResponseCache

    now = [0.0]
    cache = ResponseCache(4, ttl_s=10, clock=lambda: now[0])
    cache.put("k", 1)
    assert cache.get("k") == 1
    now[0] = 11
    assert cache.get("k") is None


# -- faults ----------------------------------------------------------------------------------


def test_corrupt_model_is_never_loaded_and_answers_503(
    bundles: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bundles["mixed-logreg"], broken)
    data = bytearray((broken / "model.onnx").read_bytes())
    data[-1] ^= 0xFF
    (broken / "model.onnx").write_bytes(bytes(data))
    app = make_app(broken, metrics="emf", reload_backoff_s=0)
    status, payload = http(app, {"instances": [MIXED_ROW]})
    assert status == 503 and payload["error"]["code"] == "model_unavailable"
    assert "sha256" in payload["error"]["message"]
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    assert emf[-1]["ModelLoadFailures"] == 1 and emf[-1]["Errors"] == 1
    (broken / "model.onnx").write_bytes((bundles["mixed-logreg"] / "model.onnx").read_bytes())
    assert http(app, {"instances": [MIXED_ROW]})[0] == 200  # recovers once the file is right


def test_missing_model_file_answers_503(bundles: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    gone = tmp_path / "gone"
    shutil.copytree(bundles["mixed-logreg"], gone)
    (gone / "model.onnx").unlink()
    status, payload = http(make_app(gone), {"instances": [MIXED_ROW]})
    assert status == 503 and "cannot be read" in payload["error"]["message"]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("format", 1, "format 1"),
        ("task", "ranker", "task 'ranker'"),
        ("runtime", {"name": "tensorflow"}, "runtime 'tensorflow'"),
    ],
)
def test_a_manifest_this_handler_cannot_serve_answers_503_naming_the_fix(
    bundles: dict[str, Path], tmp_path: Path, key: str, value: Any, named: str
) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(bundles["mixed-logreg"], other)
    manifest = json.loads((other / "slpack.json").read_text())
    manifest[key] = value
    (other / "slpack.json").write_text(json.dumps(manifest))
    status, payload = http(make_app(other), {"instances": [MIXED_ROW]})
    assert status == 503 and payload["error"]["code"] == "model_unavailable"
    assert (
        named in payload["error"]["message"] and "rebuild the bundle" in payload["error"]["message"]
    )


def test_an_exception_becomes_one_bounded_line_even_when_it_says_nothing() -> None:
    # messages quote a library's exception; an empty one must not crash the message itself
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(RuntimeError("  \n")) == "RuntimeError"
    assert first_line(OSError("bad header\n  at byte 12\n")) == "bad header"
    assert first_line(ValueError("x" * 500), 160) == "x" * 160


def test_bad_settings_fall_back_to_defaults() -> None:
    settings = Settings.from_env(
        {"SLPACK_MAX_BATCH": "lots", "SLPACK_METRICS": "prometheus", "SLPACK_CACHE_SIZE": "-3"}
    )
    assert settings.max_batch == 1000 and settings.metrics == "emf" and settings.cache_size == 0
    assert len(settings.problems) == 3


# -- loading: lazy by default, eager on request, isolated from the build stack ----------------

_PROBE = """
import json, sys
sys.path[:0] = sys.argv[1:3]
import slpack_handler
loaded_at_import = "onnxruntime" in sys.modules
from slpack_handler import app as app_module
session_before = app_module._app is not None and app_module._app._model is not None
out = slpack_handler.handler({"instances": [json.loads(sys.argv[3])]}, None)
forbidden = sorted(m for m in ("sklearn", "pandas", "scipy", "google.protobuf", "skl2onnx", "onnx",
"joblib") if m in sys.modules)
print(json.dumps({"ort_at_import": loaded_at_import, "session_before": session_before,
                  "response": out, "forbidden": forbidden}))
"""


def _run_isolated(task_root: Path, layer: Path, env: dict[str, str], row: Any) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _PROBE, str(task_root), str(layer), json.dumps(row)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), **env},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_isolated_interpreter_with_only_bundle_and_layer(
    bundles: dict[str, Path], host_layer_dir: Path, tmp_path: Path
) -> None:
    task_root = unpack_function(bundles["mixed-logreg"], tmp_path / "task")
    lazy = _run_isolated(task_root, host_layer_dir, {"SLPACK_METRICS": "none"}, MIXED_ROW)
    assert lazy["forbidden"] == []
    assert lazy["ort_at_import"] is False and lazy["session_before"] is False
    assert lazy["response"]["predictions"][0]["label"] in (0, 1)
    eager = _run_isolated(
        task_root, host_layer_dir, {"SLPACK_METRICS": "none", "SLPACK_EAGER": "1"}, MIXED_ROW
    )
    assert eager["ort_at_import"] is True and eager["session_before"] is True
    assert eager["response"] == lazy["response"]


@pytest.mark.parametrize("size", [0, 1, 256 * 1024, 256 * 1024 + 1, 3 << 20])
def test_model_hash_is_sha256_on_both_routes(size: int) -> None:
    import hashlib

    from slpack_handler.model import sha256_hex

    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()
