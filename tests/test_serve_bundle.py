"""A real bundle (the slpack handler, an ONNX model) served and invoked through awslambdaric.

The workers import only the unpacked function.zip, the layer built from this environment and
awslambdaric, so these tests also prove the bundle runs with nothing but numpy and onnxruntime.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pipelines import COVERAGE

from slpack.bundler import build_bundle
from slpack.serve.front import FunctionUrlServer
from slpack.serve.local import local_function

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """An iris classifier bundle, the fitted pipeline and its sample rows."""
    model, sample = COVERAGE["standard-scaler-logreg"]()
    bundle = build_bundle(
        model, sample, tmp_path_factory.mktemp("serve") / "dist", name="iris"
    ).bundle_dir
    return bundle, model, sample


@pytest.fixture(scope="module")
def iris_url(iris: tuple[Path, Any, Any], host_layer: Any) -> Iterator[tuple[str, int]]:
    """``serve`` on the iris bundle: 2 workers, a queue, the host layer; yields (host, port)."""
    bundle = iris[0]
    with (
        local_function(
            bundle,
            log=lambda source, line: None,
            layer=host_layer.zip_path,
            workers=2,
            queue_limit=32,
        ) as pool,
        FunctionUrlServer(pool) as server,
    ):
        yield server.server_address[:2]


def post(conn: http.client.HTTPConnection, path: str, payload: Any) -> tuple[int, Any]:
    conn.request(
        "POST", path, body=json.dumps(payload), headers={"content-type": "application/json"}
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_concurrent_clients_get_correct_predictions(
    iris: tuple[Path, Any, Any], iris_url: tuple[str, int]
) -> None:
    _, model, sample = iris
    clients, per_client = 4, 15
    rows = sample.to_dict("records")

    def client(number: int) -> list[tuple[list[int], int, Any, float]]:
        rng = random.Random(number)
        conn = http.client.HTTPConnection(*iris_url, timeout=60)
        answers = []
        for _ in range(per_client):
            picked = rng.sample(range(len(rows)), rng.randint(1, 3))
            started = time.perf_counter()
            status, body = post(conn, "/predict", {"instances": [rows[i] for i in picked]})
            answers.append((picked, status, body, time.perf_counter() - started))
        conn.close()
        return answers

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        answers = [a for batch in executor.map(client, range(clients)) for a in batch]
    elapsed = time.perf_counter() - started

    assert len(answers) == clients * per_client
    for picked, status, body, _ in answers:
        assert status == 200, body
        expected_labels = model.predict(sample.iloc[picked])
        expected_proba = model.predict_proba(sample.iloc[picked])
        predictions = body["predictions"]
        assert len(predictions) == len(picked)
        for prediction, label, proba in zip(predictions, expected_labels, expected_proba):
            assert prediction["label"] == label
            got = [prediction["probabilities"][str(c)] for c in model.classes_]
            np.testing.assert_allclose(got, proba, atol=1e-4)
        assert body["model"]["name"] == "iris"
    latencies = sorted(a[3] for a in answers)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(f"{len(answers)} requests, {len(answers) / elapsed:.0f} req/s, p99 {p99 * 1000:.1f} ms")


def test_bad_input_is_the_handlers_4xx_not_a_gateway_error(iris_url: tuple[str, int]) -> None:
    conn = http.client.HTTPConnection(*iris_url, timeout=60)
    status, body = post(conn, "/predict", {"instances": [{"sepal length (cm)": "tall"}]})
    assert status == 400 and body["error"]["code"] == "validation_failed"
    conn.request("GET", "/metadata")
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read())["model"]["name"] == "iris"


@pytest.mark.parametrize("shape", ["direct", "url", "apigw-v2", "apigw-v1", "alb"])
def test_invoke_each_event_shape(
    run_cli: Any, iris: tuple[Path, Any, Any], host_layer: Any, shape: str
) -> None:
    bundle, model, sample = iris
    row = sample.iloc[[60]]
    data = json.dumps({"instances": row.to_dict("records")})
    result = run_cli(
        "invoke", bundle, "--data", data, "--event", shape, "--layer", host_layer.zip_path
    )
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    if shape != "direct":
        assert answer["statusCode"] == 200
        answer = json.loads(answer["body"])
    assert answer["predictions"][0]["label"] == model.predict(row)[0]
    metrics = [
        json.loads(line.split("] ", 1)[1]) for line in result.err.splitlines() if '"_aws"' in line
    ]
    assert metrics and metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "slpack"


def test_invoke_exits_non_zero_on_invalid_input(
    run_cli: Any, iris: tuple[Path, Any, Any], host_layer: Any
) -> None:
    result = run_cli(
        "invoke", iris[0], "--data", '{"instances": [{"nope": 1}]}', "--layer", host_layer.zip_path
    )
    assert result.code == 1
    assert json.loads(result.out)["error"]["code"] == "validation_failed"
    assert "the function answered with status 400" in result.err
