"""Faults around the model source: S3 down, then back; the function answers 503, then recovers."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from pipelines import COVERAGE

from slpack.bundler import build_bundle
from slpack_handler import s3
from slpack_handler.app import App
from slpack_handler.config import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_s3_unreachable_then_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    model, sample = COVERAGE["standard-scaler-logreg"]()
    bundle = build_bundle(model, sample, tmp_path / "dist", name="iris").bundle_dir
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "SLPACK_S3_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(s3, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(s3, "BACKOFF_CAP_S", 0.02)
    app = App(
        Settings(
            model_dir=str(bundle),
            model_uri="s3://models/iris/model.onnx",
            model_cache_dir=str(tmp_path / "cache"),
            reload_backoff_s=0,
            metrics="emf",
        )
    )
    body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()

    down = app.handle_http("POST", "/", {}, body, "r1")
    assert down.status == 503
    assert (
        "S3" in json.loads(down.body)["error"]["message"]
        or "s3://" in json.loads(down.body)["error"]["message"]
    )
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    assert emf[-1]["ModelLoadFailures"] == 1

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="models")
        shipped = json.loads((bundle / "slpack.json").read_text())["model"]["file"]
        client.put_object(
            Bucket="models", Key="iris/model.onnx", Body=(bundle / shipped).read_bytes()
        )
        up = app.handle_http("POST", "/", {}, body, "r2")
        assert up.status == 200 and json.loads(up.body)["predictions"][0]["label"] == 0
    finally:
        server.stop()
    # The verified copy in the cache serves a fresh process with S3 gone again.
    again = App(
        Settings(
            model_dir=str(bundle),
            model_uri="s3://models/iris/model.onnx",
            model_cache_dir=str(tmp_path / "cache"),
            metrics="none",
        )
    )
    assert again.handle_http("POST", "/", {}, body, "r3").status == 200
