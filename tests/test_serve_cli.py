"""``slpack invoke`` and ``slpack serve`` on a bundle holding the stand-in function."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def layer_of(bundle: Path) -> Path:
    return bundle.parent / "empty-layer"


@pytest.mark.parametrize(
    ("shape", "check"),
    [
        ("direct", lambda e: e == {"instances": [[1, 2]]}),
        (
            "url",
            lambda e: e["version"] == "2.0" and ".lambda-url." in e["requestContext"]["domainName"],
        ),
        (
            "apigw-v2",
            lambda e: (
                e["version"] == "2.0" and ".execute-api." in e["requestContext"]["domainName"]
            ),
        ),
        (
            "apigw-v1",
            lambda e: e["httpMethod"] == "POST" and e["requestContext"]["stage"] == "prod",
        ),
        ("alb", lambda e: "elb" in e["requestContext"]),
    ],
)
def test_invoke_sends_each_event_shape(
    run_cli: Any, standin_bundle: Path, shape: str, check: Any
) -> None:
    data = '{"instances": [[1, 2]]}'
    result = run_cli(
        "invoke",
        standin_bundle,
        "--data",
        data,
        "--event",
        shape,
        "--layer",
        layer_of(standin_bundle),
    )
    assert result.code == 0, result.err
    event = json.loads(result.out)["event"]
    assert check(event)
    if shape != "direct":
        assert json.loads(event["body"]) == json.loads(data)
    assert "[w1] handled" in result.err  # the worker's output, relayed
    assert "REPORT RequestId:" in result.err


def test_invoke_reads_data_from_a_file_and_passes_env(
    run_cli: Any, standin_bundle: Path, tmp_path: Path
) -> None:
    request = tmp_path / "request.json"
    request.write_text('{"from": "file"}')
    result = run_cli(
        "invoke",
        standin_bundle,
        "--data",
        f"@{request}",
        "--env",
        "SLPACK_CACHE_SIZE=8",
        "--layer",
        layer_of(standin_bundle),
    )
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert answer["event"] == {"from": "file"}
    assert answer["env"]["SLPACK_CACHE_SIZE"] == "8"
    assert answer["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "standin"


def test_invoke_exits_non_zero_on_an_error_response(run_cli: Any, standin_bundle: Path) -> None:
    reply = {"reply": {"statusCode": 400, "body": '{"error": {"code": "validation_failed"}}'}}
    for shape in ("direct", "url"):
        result = run_cli(
            "invoke",
            standin_bundle,
            "--data",
            json.dumps(reply),
            "--event",
            shape,
            "--layer",
            layer_of(standin_bundle),
        )
        assert result.code == 1
        assert json.loads(result.out)["statusCode"] == 400  # the answer is still shown


def test_invoke_reports_a_function_failure(run_cli: Any, standin_bundle: Path) -> None:
    result = run_cli(
        "invoke",
        standin_bundle,
        "--data",
        '{"raise": "no model"}',
        "--layer",
        layer_of(standin_bundle),
    )
    assert result.code != 0
    assert json.loads(result.out)["errorType"] == "RuntimeError"
    assert "error: the invocation failed (error): RuntimeError: no model" in result.err
    assert "Traceback" not in result.err.split("error: the invocation failed")[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{not json"], "--data is not valid JSON"),
        (["--data", "@/nonexistent/file.json"], "cannot read /nonexistent/file.json"),
        (["--data", "{}", "--env", "NOEQUALS"], "is not KEY=VALUE"),
        (
            ["--data", "{}", "--layer", "/nonexistent/layer.zip"],
            "layer /nonexistent/layer.zip does not exist",
        ),
    ],
)
def test_invoke_user_errors_are_one_sentence(
    run_cli: Any, standin_bundle: Path, args: list[str], message: str
) -> None:
    result = run_cli("invoke", standin_bundle, *args)
    assert result.code != 0
    assert message in result.err and "Traceback" not in result.err


def test_invoke_refuses_a_folder_that_is_not_a_bundle(run_cli: Any, tmp_path: Path) -> None:
    result = run_cli("invoke", tmp_path, "--data", "{}")
    assert result.code != 0
    assert "is not a bundle" in result.err


def test_a_bundle_that_cannot_import_fails_at_start(run_cli: Any, standin_bundle: Path) -> None:
    import zipfile

    with zipfile.ZipFile(standin_bundle / "function.zip", "w") as zf:
        zf.writestr("slpack_handler/__init__.py", "import numpy\n")  # not in the (empty) layer
    result = run_cli("invoke", standin_bundle, "--data", "{}", "--layer", layer_of(standin_bundle))
    assert result.code != 0
    assert "the function could not start" in result.err
    assert "No module named 'numpy'" in result.err


@pytest.mark.timeout(60)  # a serve that never prints its address must not hang the run
def test_serve_command_answers_http_and_stops_on_sigterm(standin_bundle: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("slpack")),
        "serve",
        str(standin_bundle),
        "--port",
        "0",
        "--workers",
        "2",
        "--layer",
        str(layer_of(standin_bundle)),
    ]
    proc = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "300"}
    )
    try:
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # each line arrives or the stream ends
            lines.append(proc.stderr.readline())
            if not lines[-1]:
                pytest.fail("serve exited:\n" + "".join(lines))
            if match := re.search(r"on (http://127\.0\.0\.1:(\d+))", lines[-1]):
                break
        else:
            pytest.fail("serve did not start:\n" + "".join(lines))
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(2)), timeout=10)
        conn.request(
            "POST", "/predict", body='{"token": 7}', headers={"content-type": "application/json"}
        )
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(json.loads(response.read())["event"]["body"]) == {"token": 7}
        pids = [int(p) for p in re.findall(r"started \(pid (\d+)\)", "".join(lines))]
        assert len(pids) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        for pid in pids:  # the workers went with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        proc.kill()
        proc.wait()


def test_invoke_refuses_a_damaged_function_zip_in_one_sentence(
    run_cli: Any, standin_bundle: Path
) -> None:
    archive = standin_bundle / "function.zip"
    data = bytearray(archive.read_bytes())
    at = data.index(b"def handler")  # inside the stored (uncompressed) handler: the CRC breaks
    data[at : at + 3] = b"DEF"
    archive.write_bytes(bytes(data))
    result = run_cli("invoke", standin_bundle, "--data", "{}")
    assert result.code != 0 and "Traceback" not in result.err
    assert "cannot be unpacked" in result.err and "rebuild the bundle" in result.err
