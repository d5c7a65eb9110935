"""Cloud Run functions and Azure Functions: the rendered folders on each platform's own runner
(functions-framework over HTTP on 127.0.0.1; azure-functions' app, request and response types)
answer exactly what the Lambda handler answers, and their metric records follow each platform's
structured-logging format."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, invoke_bundle
from pipelines import COVERAGE

from slpack.bundler import build_bundle
from slpack.render import render

ROW = {
    "age": 40.0,
    "monthly_spend": 55.2,
    "visits": 3,
    "is_member": True,
    "plan": "pro",
    "region": None,
    "tier": "low",
}
BATCH = [
    ROW,
    {**ROW, "plan": "basic", "age": 61.0},
    {**ROW, "plan": "enterprise", "age": 500.0, "region": "eu"},
]

# (name, method, path, body): what each platform is asked, and the Lambda handler with it.
REQUESTS: list[tuple[str, str, str, bytes]] = [
    ("row", "POST", "/", json.dumps({"instances": [ROW]}).encode()),
    ("batch", "POST", "/", json.dumps({"instances": BATCH}).encode()),
    (
        "columns",
        "POST",
        "/",
        json.dumps({"inputs": {k: [r[k] for r in BATCH] for k in ROW}}).encode(),
    ),
    (
        "invalid",
        "POST",
        "/",
        json.dumps({"instances": [{**ROW, "age": "old", "visits": 2.5}]}).encode(),
    ),
    ("broken-json", "POST", "/", b'{"instances": ['),
    ("metadata", "GET", "/metadata", b""),
]
AZURE_ROUTES = {"/": "predict", "/metadata": "metadata"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, sample = COVERAGE["mixed-logreg"]()
    built = build_bundle(
        model, sample, tmp_path_factory.mktemp("platforms"), name="mixed"
    ).bundle_dir
    render(built, ["gcp", "azure"])
    return built


def _v2_event(method: str, path: str, body: bytes) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "body": body.decode(),
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": method, "path": path}},
    }


@pytest.fixture(scope="module")
def lambda_answers(
    bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, Any]]:
    """What the Lambda handler in function.zip answers, in a fresh interpreter (HTTP API v2
    events)."""
    events = [_v2_event(method, path, body) for _, method, path, body in REQUESTS]
    answers = invoke_bundle(
        bundle, events, tmp_path_factory.mktemp("lambda"), env={"SLPACK_LOG_LEVEL": "ERROR"}
    )  # answers only on stdout
    return {
        name: (a["statusCode"], _comparable(json.loads(a["body"])))
        for (name, *_), a in zip(REQUESTS, answers)
    }


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The answer without its request id (each platform names requests its own way)."""
    if "error" in body:
        body = {**body, "error": {k: v for k, v in body["error"].items() if k != "request_id"}}
    return body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url,
        data=body if method == "POST" else None,
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


# -- Google Cloud Run functions: functions-framework serving the rendered folder
# ---------------------


@pytest.fixture(scope="module")
def gcp_run(bundle: Path) -> dict[str, Any]:
    """Start ``functions-framework --target predict`` in deploy/gcp, send every request, stop it."""
    folder = bundle / "deploy" / "gcp"
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SLPACK_")
    }  # main.py's own defaults
    env.update(K_SERVICE="mixed-fn", PYTHONUNBUFFERED="1")
    runner = Path(sys.executable).with_name("functions-framework")
    proc = subprocess.Popen(
        [
            str(runner),
            "--target",
            "predict",
            "--source",
            "main.py",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    pytest.fail(f"functions-framework exited: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
                time.sleep(0.1)
        else:
            pytest.fail("functions-framework did not start")
        answers = {name: _call(base + path, method, body) for name, method, path, body in REQUESTS}
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    return {"answers": answers, "stdout": out, "stderr": err}


@pytest.mark.slow
def test_gcp_answers_like_the_lambda_handler(
    gcp_run: dict[str, Any], lambda_answers: dict[str, tuple[int, Any]]
) -> None:
    for name, (status, headers, body) in gcp_run["answers"].items():
        assert (status, _comparable(json.loads(body))) == lambda_answers[name], name
        assert headers["content-type"] == "application/json" and headers["x-request-id"]
    assert lambda_answers["invalid"][1]["error"]["code"] == "validation_failed"
    assert {d["field"] for d in lambda_answers["invalid"][1]["error"]["details"]} == {
        "age",
        "visits",
    }
    assert lambda_answers["broken-json"][0] == 400 and lambda_answers["batch"][0] == 200
    assert len(lambda_answers["batch"][1]["predictions"]) == 3


@pytest.mark.slow
def test_gcp_metric_lines_are_cloud_logging_structured_entries(gcp_run: dict[str, Any]) -> None:
    entries = [
        json.loads(line)
        for line in gcp_run["stdout"].splitlines()
        if line.startswith('{"severity"')
    ]
    assert len(entries) == len(REQUESTS) + 1, gcp_run["stderr"][
        -2000:
    ]  # the readiness probe, then every request
    for entry in entries:
        _check_cloud_logging_entry(entry)
        labels = entry["logging.googleapis.com/labels"]
        assert (labels["FunctionName"], labels["ModelName"]) == (
            "mixed-fn",
            "mixed",
        )  # K_SERVICE names the function
    assert entries[0]["metrics"]["ColdStart"] == 1 and all(
        "ColdStart" not in e["metrics"] for e in entries[1:]
    )
    by_status = [e["metrics"]["statusCode"] for e in entries[1:]]
    assert by_status == [200, 200, 200, 400, 400, 200]
    assert entries[2]["metrics"]["BatchSize"] == 3 and entries[2]["metrics"]["UnknownCategory"] == 1


def _check_cloud_logging_entry(entry: dict[str, Any]) -> None:
    """https://cloud.google.com/logging/docs/structured-logging: the special fields' types."""
    assert entry["severity"] in (
        "DEFAULT",
        "DEBUG",
        "INFO",
        "NOTICE",
        "WARNING",
        "ERROR",
        "CRITICAL",
        "ALERT",
        "EMERGENCY",
    )
    assert isinstance(entry["message"], str) and entry["message"]
    labels = entry["logging.googleapis.com/labels"]
    assert labels and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
    special = {k for k in entry if k.startswith("logging.googleapis.com/")}
    assert special <= {
        "logging.googleapis.com/labels",
        "logging.googleapis.com/trace",
        "logging.googleapis.com/spanId",
    }
    metrics = entry["metrics"]
    assert (
        isinstance(metrics["TotalMs"], float)
        and metrics["Errors"] in (0, 1)
        and metrics["ValidationErrors"] in (0, 1)
    )
    assert not set(labels) & set(metrics)  # the dimensions are labels, not repeated in the payload


def test_gcp_request_id_comes_from_the_platform() -> None:
    from slpack_handler.gcp import request_id

    assert (
        request_id({"function-execution-id": "exec-1", "x-cloud-trace-context": "t/1;o=1"})
        == "exec-1"
    )
    assert (
        request_id({"x-cloud-trace-context": "105445aa7843bc8bf206b12000100000/1;o=1"})
        == "105445aa7843bc8bf206b12000100000"
    )
    assert (
        request_id({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        == "4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert request_id({"traceparent": "garbage"}) is None and request_id({}) is None


# -- Azure Functions: the rendered function_app.py through azure-functions' own types
# ----------------


@pytest.fixture
def azure_app(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The rendered function_app module, with a fresh process-wide App reading
    deploy/azure/model."""
    folder = bundle / "deploy" / "azure"
    for name in [k for k in os.environ if k.startswith("SLPACK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLPACK_MODEL_DIR", str(folder / "model"))
    monkeypatch.setenv("WEBSITE_SITE_NAME", "mixed-app")
    monkeypatch.syspath_prepend(str(folder))
    import slpack_handler.app as app_module

    monkeypatch.setattr(app_module, "_app", None)
    spec = importlib.util.spec_from_file_location("function_app", folder / "function_app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Context:
    """What the worker passes as ``context``: only the invocation id is read."""

    def __init__(self, invocation_id: str) -> None:
        self.invocation_id = invocation_id


@pytest.mark.slow
def test_azure_answers_like_the_lambda_handler(
    azure_app: Any, lambda_answers: dict[str, tuple[int, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    import azure.functions as func

    functions = {f.get_function_name(): f for f in azure_app.app.get_functions()}
    assert set(functions) == {"predict", "metadata", "health"}
    for f in functions.values():
        (trigger,) = [b for b in f.get_bindings() if b.type == "httpTrigger"]
        assert (
            trigger.auth_level == func.AuthLevel.FUNCTION and trigger.route == f.get_function_name()
        )
    caplog.set_level(logging.INFO, logger="slpack.metrics")
    for name, method, path, body in REQUESTS:
        route = AZURE_ROUTES[path]
        request = func.HttpRequest(
            method,
            f"https://mixed-app.azurewebsites.net/api/{route}?code=key",
            headers={"Content-Type": "application/json"},
            body=body,
        )
        response = functions[route].get_user_function()(request, _Context(f"inv-{name}"))
        assert isinstance(response, func.HttpResponse)
        assert (
            response.status_code,
            _comparable(json.loads(response.get_body())),
        ) == lambda_answers[name], name
        assert (
            response.headers["content-type"] == "application/json"
            and response.headers["x-request-id"] == f"inv-{name}"
        )
    records = [r for r in caplog.records if r.name == "slpack.metrics"]
    assert len(records) == len(REQUESTS)
    for record, (name, *_) in zip(records, REQUESTS):
        _check_azure_record(record)
        assert record.__dict__["requestId"] == f"inv-{name}"


def _check_azure_record(record: logging.LogRecord) -> None:
    """A trace the worker forwards (INFO or above) whose message is the whole record as JSON,
    with the same fields as ``extra`` attributes (customDimensions under OpenTelemetry)."""
    assert record.levelno == logging.INFO
    message = json.loads(record.getMessage())["metrics"]
    assert message["FunctionName"] == "mixed-app" and message["ModelName"] == "mixed"
    assert isinstance(message["TotalMs"], float) and message["statusCode"] in (200, 400)
    for key, value in message.items():
        assert record.__dict__[key] == value


# -- the metric sinks, as the handler selects them
# ---------------------------------------------------


def test_sinks_are_selected_by_environment_and_cost_nothing_unused() -> None:
    from slpack_handler.config import SINKS, Settings

    for sink in SINKS:
        assert Settings.from_env({"SLPACK_METRICS": sink}).metrics == sink
    assert Settings.from_env({"WEBSITE_SITE_NAME": "app"}).function_name == "app"
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import slpack_handler.gcp, "
        "slpack_handler.azure; "
        "print(json.dumps([m for m in ('logging', 'flask', 'azure.functions', "
        "'functions_framework') "
        "if m in sys.modules]))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code, str(REPO / "handlers")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stderr


def test_gcp_and_azure_formats_carry_the_same_record() -> None:
    from slpack_handler.metrics import MetricRecord, azure_message, gcp_line

    record = MetricRecord()
    record.add("TotalMs", 2.5)
    record.add("Errors", 0)
    record.add("ValidationErrors", 0)
    record.properties.update(requestId="r-1", statusCode=200)
    dimensions = {"FunctionName": "f", "ModelName": "m", "ModelVersion": "7"}
    entry = json.loads(gcp_line(record, dimensions))
    _check_cloud_logging_entry(entry)
    message, extra = azure_message(record, dimensions)
    flat = json.loads(message)["metrics"]
    assert flat == extra == {**entry["logging.googleapis.com/labels"], **entry["metrics"]}
