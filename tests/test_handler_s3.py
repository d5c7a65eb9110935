"""The S3 model source of the function runtime: signer, download, cache, retries, failures.

The signer is checked against botocore's; the download runs over real HTTP against a moto
server, and against a small scripted server on 127.0.0.1 for what moto cannot be asked to do
(503s, throttling, a dropped connection, access denied, a redirect, container credentials).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from moto.server import ThreadedMotoServer

from slpack_handler import s3

REPO = Path(__file__).resolve().parent.parent

MODEL = b"\x08\x07onnx-model-bytes" * 5000  # ~90 KB: several reads, still instant
SHA = hashlib.sha256(MODEL).hexdigest()
BUCKET = "models"
KEY = "iris/v1/model ü+1.onnx"  # a space, a non-ASCII letter and a '+' exercise the key encoding


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Test credentials, no inherited endpoint or container credentials; sleeps recorded only."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "SLPACK_S3_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    sleeps: list[float] = []
    monkeypatch.setattr(s3, "time", SimpleNamespace(sleep=sleeps.append, time=time.time))
    return sleeps


# --- the signer ---------------------------------------------------------------------------

SIGNED_AT = datetime(2024, 5, 17, 9, 30, 5, tzinfo=timezone.utc)


def _freeze_botocore_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    """Fix the time botocore signs at: ``get_current_datetime()`` in newer releases,
    ``datetime.datetime.utcnow()`` in older ones (the resolver may pick either)."""
    import botocore.auth

    class _Frozen(datetime):
        @classmethod
        def utcnow(cls) -> datetime:  # type: ignore[override]
            return now

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now, raising=False)
    monkeypatch.setattr(botocore.auth, "datetime", SimpleNamespace(datetime=_Frozen), raising=False)


@pytest.mark.parametrize(
    "url",
    [
        s3.object_url(BUCKET, "model.onnx", "us-east-1"),
        s3.object_url(BUCKET, KEY, "eu-west-3"),
        s3.object_url("my.dotted.bucket", "a/b~c/d=e&f.onnx", "ap-south-1"),
        s3.object_url(BUCKET, KEY, "us-east-1", "http://127.0.0.1:9000/"),
        s3.object_url(BUCKET, "model.onnx", "us-east-1", "https://minio.example:443")
        + "?versionId=3%2Fx",
    ],
)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzE//token+with/slashes="])
def test_signature_matches_botocore(
    monkeypatch: pytest.MonkeyPatch, url: str, token: str | None
) -> None:
    region = "eu-west-3"
    creds = s3.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    ours = s3.sign_get(url, creds, region, SIGNED_AT)

    _freeze_botocore_clock(monkeypatch, SIGNED_AT.replace(tzinfo=None))
    request = AWSRequest(method="GET", url=url)
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(BotoCredentials(creds.access_key, creds.secret_key, token), "s3", region).add_auth(
        request
    )

    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"] == "20240517T093005Z"
    assert (
        ours["x-amz-content-sha256"]
        == request.headers["X-Amz-Content-SHA256"]
        == "UNSIGNED-PAYLOAD"
    )
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def test_urls_are_virtual_hosted_on_aws_and_path_style_on_an_endpoint() -> None:
    assert (
        s3.object_url("b", "k/a b.onnx", "eu-west-1")
        == "https://b.s3.eu-west-1.amazonaws.com/k/a%20b.onnx"
    )
    assert s3.object_url("b.c", "k", "cn-north-1") == "https://s3.cn-north-1.amazonaws.com.cn/b.c/k"
    assert (
        s3.object_url("b", "k/ü", "us-east-1", "http://localhost:4566/")
        == "http://localhost:4566/b/k/%C3%BC"
    )


@pytest.mark.parametrize(
    "uri", ["https://b/k", "s3://bucket", "s3://bucket/", "s3:///key", "b/k", "s3://b/k?x=1"]
)
def test_only_s3_uris_are_accepted(uri: str, tmp_path: Path) -> None:
    with pytest.raises(s3.ModelFetchError, match="s3://bucket/key"):
        s3.fetch_model(uri, SHA, str(tmp_path))


# --- against moto over HTTP ---------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=KEY, Body=MODEL)
    client.put_object(Bucket=BUCKET, Key="corrupt.onnx", Body=MODEL[:-1] + b"!")
    yield endpoint
    server.stop()


class _CountingOpener:
    """Wraps the module's opener to count the requests fetch_model makes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.urls: list[str] = []

    def open(self, request: Any, timeout: float) -> Any:
        self.urls.append(request.full_url)
        return self.inner.open(request, timeout=timeout)


@pytest.fixture
def opener(monkeypatch: pytest.MonkeyPatch) -> _CountingOpener:
    counting = _CountingOpener(s3._OPENER)
    monkeypatch.setattr(s3, "_OPENER", counting)
    return counting


def test_fetch_from_moto_then_reuse_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    try:
        client = boto3.client(
            "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1"
        )
        client.create_bucket(Bucket="warm")
        client.put_object(Bucket="warm", Key=KEY, Body=MODEL)
        path = s3.fetch_model(f"s3://warm/{KEY}", SHA, str(tmp_path / "cache"))
    finally:
        server.stop()
    assert path == str(tmp_path / "cache" / f"{SHA}.model")
    assert Path(path).read_bytes() == MODEL
    assert (
        s3.fetch_model(f"s3://warm/{KEY}", SHA, str(tmp_path / "cache")) == path
    )  # the server is gone
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert cached == [f".{SHA}.lock", f"{SHA}.model"]


@pytest.mark.parametrize(
    "variable", ["SLPACK_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
)
def test_every_endpoint_variable_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    moto_endpoint: str,
    opener: _CountingOpener,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, moto_endpoint)
    assert (
        Path(s3.fetch_model(f"s3://{BUCKET}/{KEY}", SHA.upper(), str(tmp_path))).read_bytes()
        == MODEL
    )
    assert opener.urls == [f"{moto_endpoint}/{BUCKET}/iris/v1/model%20%C3%BC%2B1.onnx"]


def test_a_corrupt_cached_file_is_replaced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_endpoint: str
) -> None:
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", moto_endpoint)
    (tmp_path / f"{SHA}.model").write_bytes(MODEL[:100])
    assert Path(s3.fetch_model(f"s3://{BUCKET}/{KEY}", SHA, str(tmp_path))).read_bytes() == MODEL


def test_an_object_that_does_not_match_the_manifest_is_refused_once_and_not_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_endpoint: str, opener: _CountingOpener
) -> None:
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", moto_endpoint)
    with pytest.raises(
        s3.ModelFetchError,
        match=r"s3://models/corrupt.onnx has sha256 [0-9a-f]{64}, which does not match the "
        rf"manifest's {SHA}",
    ):
        s3.fetch_model(f"s3://{BUCKET}/corrupt.onnx", SHA, str(tmp_path))
    assert len(opener.urls) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f".{SHA}.lock"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            f"s3://{BUCKET}/missing.onnx",
            r"^s3://models/missing.onnx does not exist \(404 NoSuchKey\); upload",
        ),
        (
            "s3://no-such-bucket/model.onnx",
            r"^bucket no-such-bucket does not exist \(404 NoSuchBucket\)",
        ),
    ],
)
def test_a_missing_object_fails_fast_with_a_clear_sentence(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    moto_endpoint: str,
    opener: _CountingOpener,
    uri: str,
    message: str,
) -> None:
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", moto_endpoint)
    with pytest.raises(s3.ModelFetchError, match=message):
        s3.fetch_model(uri, SHA, str(tmp_path))
    assert len(opener.urls) == 1


def test_a_full_disk_is_named_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_endpoint: str, opener: _CountingOpener
) -> None:
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", moto_endpoint)

    class FullDisk(io.BufferedWriter):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(s3.os, "fdopen", lambda fd, mode: FullDisk(io.FileIO(fd, mode)))
    with pytest.raises(
        s3.ModelFetchError, match=rf"^{tmp_path} is full, so the model cannot be cached there"
    ):
        s3.fetch_model(f"s3://{BUCKET}/{KEY}", SHA, str(tmp_path))
    assert len(opener.urls) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f".{SHA}.lock"]


# --- against a scripted server: what moto cannot be asked to do ---------------------------

DROP = "drop"  # claim the whole body, send half of it, hang up


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        answers = self.server.routes.get(
            self.path, [(404, b"<Error><Code>NoSuchKey</Code></Error>", {})]
        )
        status, body, headers, *delay = answers.pop(0) if len(answers) > 1 else answers[0]
        time.sleep(delay[0] if delay else 0)
        self.send_response(200 if status == DROP else status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if status == DROP else body)

    def log_message(self, *args: object) -> None:
        pass


class Scripted(ThreadingHTTPServer):
    """Answers each path from a list of (status, body, headers[, delay_s]); the last one repeats."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, list[tuple[Any, ...]]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"

    def on(self, path: str, *answers: tuple[Any, ...]) -> None:
        self.routes[path] = list(answers)

    def gets(self, path: str) -> int:
        return sum(1 for got, _ in self.requests if got == path)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scripted]:
    server = Scripted()
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", server.endpoint)
    yield server
    server.shutdown()
    server.server_close()


OBJECT = "/models/model.onnx"
URI = "s3://models/model.onnx"
SLOW_DOWN: tuple[Any, ...] = (
    503,
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    {},
)


def test_transient_failures_are_retried_with_jittered_backoff(
    scripted: Scripted, tmp_path: Path, aws_env: list[float]
) -> None:
    request_timeout: tuple[Any, ...] = (400, b"<Error><Code>RequestTimeout</Code></Error>", {})
    scripted.on(
        OBJECT, (500, b"", {}), SLOW_DOWN, request_timeout, (DROP, MODEL, {}), (200, MODEL, {})
    )
    assert Path(s3.fetch_model(URI, SHA, str(tmp_path), attempts=5)).read_bytes() == MODEL
    assert scripted.gets(OBJECT) == 5
    assert len(aws_env) == 4
    assert all(
        0 <= slept <= min(s3.BACKOFF_CAP_S, s3.BACKOFF_BASE_S * 2**n)
        for n, slept in enumerate(aws_env)
    )
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


def test_throttling_that_never_ends_gives_up_after_exactly_the_attempts(
    scripted: Scripted, tmp_path: Path, aws_env: list[float]
) -> None:
    scripted.on(OBJECT, (429, b"", {}), SLOW_DOWN, (503, b"", {}))
    with pytest.raises(
        s3.ModelFetchError,
        match=r"^could not fetch s3://models/model.onnx after 3 attempts \(S3 answered 503 ",
    ):
        s3.fetch_model(URI, SHA, str(tmp_path), attempts=3)
    assert scripted.gets(OBJECT) == 3
    assert len(aws_env) == 2


def test_an_unreachable_endpoint_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(
        s3.ModelFetchError,
        match=r"after 2 attempts \(cannot connect: .*\); check that S3 is reachable",
    ):
        s3.fetch_model(URI, SHA, str(tmp_path), attempts=2, timeout_s=1.0)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "AccessDenied",
            (
                "the function's role may not read s3://models/model.onnx (403 AccessDenied); "
                "grant s3:GetObject on that key."
            ),
        ),
        (
            "SignatureDoesNotMatch",
            (
                "S3 rejected the function's credentials for s3://models/model.onnx "
                "(403 SignatureDoesNotMatch); check its role or AWS_* variables."
            ),
        ),
    ],
)
def test_a_refusal_fails_fast_saying_what_to_fix(
    scripted: Scripted, tmp_path: Path, code: str, message: str
) -> None:
    scripted.on(OBJECT, (403, f"<Error><Code>{code}</Code></Error>".encode(), {}))
    with pytest.raises(s3.ModelFetchError) as caught:
        s3.fetch_model(URI, SHA, str(tmp_path))
    assert str(caught.value) == message
    assert scripted.gets(OBJECT) == 1


@pytest.mark.parametrize(
    "answer",
    [
        (
            301,
            b"<Error><Code>PermanentRedirect</Code></Error>",
            {"x-amz-bucket-region": "eu-central-1"},
        ),
        (
            400,
            b"<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-central-1</Region></Error>",
            {},
        ),
    ],
)
def test_a_bucket_in_another_region_says_which(
    scripted: Scripted, tmp_path: Path, answer: tuple[Any, ...]
) -> None:
    scripted.on(OBJECT, answer)
    with pytest.raises(
        s3.ModelFetchError,
        match=r"^bucket models is in region eu-central-1 \(\d{3} \w+\); set "
        r"AWS_REGION=eu-central-1",
    ):
        s3.fetch_model(URI, SHA, str(tmp_path))
    assert scripted.gets(OBJECT) == 1


def test_a_server_that_does_not_answer_times_out_and_is_retried(
    scripted: Scripted, tmp_path: Path
) -> None:
    scripted.on(OBJECT, (200, MODEL, {}, 0.5))
    with pytest.raises(s3.ModelFetchError, match=r"after 2 attempts \(.*timed out"):
        s3.fetch_model(URI, SHA, str(tmp_path), attempts=2, timeout_s=0.1)
    assert scripted.gets(OBJECT) == 2


def test_the_request_is_signed_with_the_session_token(
    scripted: Scripted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    scripted.on(OBJECT, (200, MODEL, {}))
    s3.fetch_model(URI, SHA, str(tmp_path))
    ((_, headers),) = scripted.requests
    assert headers["x-amz-security-token"] == "session-token"
    assert headers["host"] == scripted.endpoint.removeprefix("http://")
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert (
        "/eu-north-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
        in (headers["authorization"])
    )


def test_container_credentials_are_used_when_the_environment_has_none(
    scripted: Scripted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    token_file = tmp_path / "token"
    token_file.write_text("secret-auth\n")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{scripted.endpoint}/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    creds = b'{"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "s", "Token": "container-token"}'
    scripted.on("/creds", (200, creds, {"Content-Type": "application/json"}))
    scripted.on(OBJECT, (200, MODEL, {}))
    s3.fetch_model(URI, SHA, str(tmp_path / "cache"))
    (_, creds_headers), (_, object_headers) = scripted.requests
    assert creds_headers["authorization"] == "secret-auth"
    assert object_headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIACONTAINER/")
    assert object_headers["x-amz-security-token"] == "container-token"


def test_no_credentials_at_all_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(s3.ModelFetchError, match=r"^no AWS credentials in the environment"):
        s3.fetch_model(URI, SHA, str(tmp_path))


def test_concurrent_workers_download_once(scripted: Scripted, tmp_path: Path) -> None:
    scripted.on(OBJECT, (200, MODEL, {}, 0.3))
    results: list[str] = []
    workers = [
        threading.Thread(target=lambda: results.append(s3.fetch_model(URI, SHA, str(tmp_path))))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [str(tmp_path / f"{SHA}.model")] * 3
    assert scripted.gets(OBJECT) == 1


def test_stale_partials_of_a_killed_download_are_swept(scripted: Scripted, tmp_path: Path) -> None:
    stale, fresh = tmp_path / f".{SHA}.dead.part", tmp_path / f".{SHA}.live.part"
    for part in (stale, fresh):
        part.write_bytes(b"half a model")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    scripted.on(OBJECT, (200, MODEL, {}))
    s3.fetch_model(URI, SHA, str(tmp_path))
    assert not stale.exists() and fresh.exists()


def test_a_bad_manifest_digest_is_refused_before_any_request(
    tmp_path: Path, opener: _CountingOpener
) -> None:
    with pytest.raises(s3.ModelFetchError, match="is not a 64-digit hex digest"):
        s3.fetch_model(URI, "../../etc/passwd", str(tmp_path))
    assert opener.urls == []
