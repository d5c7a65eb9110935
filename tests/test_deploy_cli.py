"""The deploy commands on the command line, and every failure a user can cause: one ``error:``
sentence each, no traceback.

Missing bucket, missing credentials and access denied come from a moto server over HTTP (moto
checks IAM policies once its authentication is switched on). Throttling and an unreachable
endpoint come from 127.0.0.1 as well: a scripted server that answers 429, and a closed port,
both after botocore's standard-mode retries. moto cannot put a function in a Failed state, so that
sentence is checked on the waiter error botocore raises for a stubbed Failed response.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from conftest import (
    AWS_TEST_REGION,
    CliResult,
    change_code,
    write_render_bundle,
    write_render_layer,
)

from slpack.deploy.aws import aws_errors, translate
from slpack.errors import SlpackError

BUCKET = "slpack-artifacts"
LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:ort:1"

Cli = Callable[..., CliResult]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_render_bundle(tmp_path)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore still retries, without sleeping between attempts."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def assert_one_sentence(result: CliResult, starts: str) -> None:
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"error: {starts}"), result.err


def test_deploy_status_and_rollback_on_the_command_line(
    run_cli: Cli, aws_env: str, tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich's tables, one row per line
    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).create_bucket(
        Bucket=BUCKET
    )
    layer = write_render_layer(tmp_path)
    args = [
        "deploy",
        bundle,
        "--bucket",
        BUCKET,
        "--layer",
        layer,
        "--endpoint-url",
        aws_env,
        "--url",
        "public",
    ]

    dry = run_cli(*args, "--dry-run")
    assert dry.code == 0 and dry.out == "" and "dry run: nothing was changed." in dry.err
    assert "publish" in dry.err and "create" in dry.err

    first = run_cli(*args)
    assert first.code == 0, first.err
    assert first.out.startswith("https://") and first.out.strip().endswith(".on.aws")
    assert "done: iris version 1 is live" in first.err

    again = run_cli(*args)
    assert again.code == 0 and again.out == first.out
    assert "nothing to change" in again.err and "already up to date" in again.err

    shown = run_cli("status", "iris", "--endpoint-url", aws_env)
    assert (
        shown.code == 0
        and "iris 1a2b3c4d5e6f" in shown.out
        and "100%" in shown.out
        and "(auth NONE)" in shown.out
    )

    assert_one_sentence(
        run_cli("rollback", "iris", "--endpoint-url", aws_env), "live is on version 1, the oldest"
    )

    change_code(bundle, "2b3c4d5e6f70")
    canary = run_cli(*args, "--canary", "10")
    assert (
        canary.code == 0
        and "iris version 2 is the canary (10%), version 1 keeps the rest of live's traffic"
        in canary.err
    )
    assert "10% (canary)" in run_cli("status", "iris", "--endpoint-url", aws_env).out


def test_a_missing_bucket(run_cli: Cli, aws_env: str, bundle: Path) -> None:
    result = run_cli(
        "deploy",
        bundle,
        "--bucket",
        "no-such-bucket",
        "--layer",
        LAYER_ARN,
        "--endpoint-url",
        aws_env,
    )
    assert_one_sentence(
        result,
        "the S3 bucket no-such-bucket does not exist; create it (aws s3 mb s3://no-such-bucket",
    )


def test_a_bucket_in_another_region(run_cli: Cli, aws_env: str, bundle: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="eu-west-1")
    s3.create_bucket(
        Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    result = run_cli(
        "deploy", bundle, "--bucket", "eu-bucket", "--layer", LAYER_ARN, "--endpoint-url", aws_env
    )
    assert_one_sentence(
        result, "the S3 bucket eu-bucket is in eu-west-1 but the function goes to us-east-1"
    )


def test_no_credentials(
    run_cli: Cli, aws_env: str, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    for command in (
        ["deploy", bundle, "--bucket", BUCKET, "--layer", LAYER_ARN],
        ["status", "iris"],
        ["rollback", "iris"],
    ):
        result = run_cli(*command, "--endpoint-url", aws_env)
        assert_one_sentence(result, "no AWS credentials were found; run aws configure")


@pytest.fixture
def restricted(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[list[str]], None]]:
    """Switch to an IAM user allowed only ``actions``, with moto enforcing IAM (switched off
    afterwards)."""

    def use(actions: list[str]) -> None:
        iam = boto3.client("iam", endpoint_url=aws_env, region_name=AWS_TEST_REGION)
        iam.create_user(UserName="deployer")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="deployer", PolicyName="some", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        _moto_auth(aws_env, "0")

    yield use
    _moto_auth(aws_env, "inf")


def _moto_auth(url: str, after_requests: str) -> None:
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=after_requests.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_access_denied(
    run_cli: Cli, aws_env: str, bundle: Path, restricted: Callable[[list[str]], None]
) -> None:
    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).create_bucket(
        Bucket=BUCKET
    )
    restricted(["s3:*", "sts:GetCallerIdentity"])  # no iam:* and no lambda:*
    result = run_cli(
        "deploy", bundle, "--bucket", BUCKET, "--layer", LAYER_ARN, "--endpoint-url", aws_env
    )
    assert_one_sentence(
        result,
        "AWS denied GetRole (User: arn:aws:iam::123456789012:user/deployer is not authorized",
    )
    assert "permissions listed in docs/deploy.md." in result.err


def test_access_to_the_bucket_denied(
    run_cli: Cli, aws_env: str, bundle: Path, restricted: Callable[[list[str]], None]
) -> None:
    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).create_bucket(
        Bucket=BUCKET
    )
    restricted(["sts:GetCallerIdentity"])
    result = run_cli(
        "deploy", bundle, "--bucket", BUCKET, "--layer", LAYER_ARN, "--endpoint-url", aws_env
    )
    assert_one_sentence(result, f"access to the S3 bucket {BUCKET} is denied")


class _Throttling(http.server.BaseHTTPRequestHandler):
    """Every request is answered the way Lambda answers past its rate limit."""

    requests = 0

    def _throttle(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"message": "Rate exceeded", "Type": "User"}).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _throttle

    def log_message(self, *args: Any) -> None:
        pass


def test_throttling_is_retried_then_explained(run_cli: Cli, aws_env: str, no_backoff: None) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_cli(
            "status", "iris", "--endpoint-url", f"http://127.0.0.1:{server.server_address[1]}"
        )
    finally:
        server.shutdown()
    assert_one_sentence(
        result, "AWS kept throttling GetFunctionConfiguration after 5 attempts; wait a minute"
    )
    assert _Throttling.requests == 5  # botocore's standard mode retried before giving up


def test_an_unreachable_endpoint(run_cli: Cli, aws_env: str, no_backoff: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the test calls it
    result = run_cli("status", "iris", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert_one_sentence(result, f"cannot reach AWS at http://127.0.0.1:{port}")


def test_a_function_in_a_failed_state(aws_env: str) -> None:
    lam = boto3.client("lambda", region_name=AWS_TEST_REGION)
    with Stubber(lam) as stub:
        reason = "The role defined for the function cannot be assumed by Lambda."
        stub.add_response(
            "get_function",
            {"Configuration": {"FunctionName": "iris", "State": "Failed", "StateReason": reason}},
        )
        with pytest.raises(SlpackError) as caught, aws_errors():
            lam.get_waiter("function_active_v2").wait(FunctionName="iris")
    assert str(caught.value) == (
        "the function iris is in a Failed state (The role defined for the function "
        "cannot be assumed by Lambda); fix the "
        "cause (often the role, the layer or the code bucket's region) and run slpack deploy again."
    )


def test_a_new_role_is_retried_until_lambda_can_assume_it(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slpack.deploy import apply
    from slpack.deploy.aws import connect
    from slpack.deploy.steps import Call

    monkeypatch.setattr(apply, "ROLE_RETRY_DELAY_S", 0)
    aws = connect(AWS_TEST_REGION)
    lam = aws.client("lambda")
    call = Call(
        "lambda",
        "create_function",
        {"FunctionName": "iris", "Role": "arn:aws:iam::123456789012:role/new", "Code": {}},
        wait="function_active_v2",
        wait_args={"FunctionName": "iris"},
        retry_while_role_propagates=True,
    )
    with Stubber(lam) as stub:
        for _ in range(2):
            stub.add_client_error(
                "create_function",
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )
        stub.add_response("create_function", {"FunctionName": "iris", "State": "Pending"})
        stub.add_response(
            "get_function", {"Configuration": {"FunctionName": "iris", "State": "Active"}}
        )
        assert apply.run_call(aws, call, {})["State"] == "Pending"
        stub.assert_no_pending_responses()


def test_a_refused_upload_is_explained_through_boto3s_wrapper() -> None:
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError

    with (
        pytest.raises(
            SlpackError, match=r"^AWS denied PutObject \(Access Denied\); give the identity"
        ),
        aws_errors(),
    ):
        try:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject"
            )
        except ClientError as exc:
            raise S3UploadFailedError(
                "Failed to upload function.zip"
            ) from exc  # the way boto3's transfer raises it


def test_errors_outside_aws_keep_their_traceback() -> None:
    assert translate(ValueError("a bug of ours")) is None
    with pytest.raises(ValueError), aws_errors():
        raise ValueError("a bug of ours")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--canary", "100"], "--canary is the percent of traffic for the new version"),
        (["--url", "open"], "--url must be one of iam, public, none."),
        (["--role", "slpack-role"], "--role must be an IAM role ARN"),
        (["--memory", "64"], "--memory must be between 128 and 10240 MB."),
        (["--layer", "missing.zip"], "layer missing.zip is not a zip file"),
        (["--bucket", "No_Such"], "--bucket 'No_Such' is not an S3 bucket name."),
    ],
)
def test_bad_options_are_refused_before_aws_is_asked(
    run_cli: Cli, bundle: Path, extra: list[str], message: str
) -> None:
    result = run_cli(
        "deploy",
        bundle,
        "--bucket",
        BUCKET,
        "--layer",
        LAYER_ARN,
        *extra,
        "--endpoint-url",
        "http://127.0.0.1:9",
    )
    assert_one_sentence(result, message)


def test_deploying_without_a_layer_is_refused(run_cli: Cli, bundle: Path) -> None:
    result = run_cli("deploy", bundle, "--bucket", BUCKET)
    assert_one_sentence(result, "the function needs the numpy + onnxruntime layer; pass --layer")


def test_without_boto3_the_extra_is_named(
    run_cli: Cli, monkeypatch: pytest.MonkeyPatch, aws_env: str
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now raises ImportError
    assert_one_sentence(
        run_cli("status", "iris"),
        "deploying needs boto3; install it with pip install 'slpack[deploy]'.",
    )


def test_the_cli_does_not_import_boto3_until_a_deploy_command_runs() -> None:
    code = (
        "import sys, slpack.cli, slpack.deploy; assert 'boto3' not in sys.modules "
        "and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
