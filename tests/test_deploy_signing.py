"""``slpack deploy --signing-profile``: the plan's signing and code signing configuration calls.

moto runs no AWS Signer job and has no code signing configurations, so these tests answer the
calls with botocore's Stubber: each stub checks the exact parameters the plan sends, and the
apply machinery (waiters, settled reads, nested outputs, Refs) runs for real. What no test here
exercises: Signer's signature itself and Lambda refusing an unsigned zip (AWS only).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from conftest import write_render_bundle

from slpack.deploy.apply import run_call
from slpack.deploy.aws import Aws
from slpack.deploy.function import function_steps
from slpack.deploy.options import DeployOptions, resolve_bundle
from slpack.deploy.signing import attach, check_versioning, code_signing_config, signed_copy
from slpack.deploy.state import FunctionState
from slpack.deploy.steps import Ref
from slpack.errors import SlpackError

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/slpack_prod/a1B2c3D4e5"
BUCKET, KEY = "artifacts", "slpack/iris/abc/function.zip"
SIGNED_PREFIX = "slpack/iris/abc/signed/slpack_prod/a1B2c3D4e5/"  # one folder per profile version
SIGNED_KEY = SIGNED_PREFIX + "job-1.zip"
SIGNED_ZIP = b"PK signed by AWS Signer"
SIGNED_SHA = base64.b64encode(hashlib.sha256(SIGNED_ZIP).digest()).decode()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Aws, dict[str, Stubber]]]:
    """An ``Aws`` whose s3, lambda and signer clients are stubbed (no endpoint is ever reached)."""
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    aws = Aws(region="us-east-1", endpoint_url="http://127.0.0.1:9", session=session)
    stubs = {name: Stubber(aws.client(name)) for name in ("s3", "lambda", "signer")}  # type: ignore[arg-type]
    for stub in stubs.values():
        stub.activate()
    yield aws, stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()


@pytest.fixture
def deployment(tmp_path: Path) -> Any:
    bundle = write_render_bundle(tmp_path, runtime="python")
    return resolve_bundle(bundle, DeployOptions(bucket=BUCKET, signing_profile=PROFILE))


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_a_new_zip_is_signed_and_its_signed_copy_hashed(aws: Any, deployment: Any) -> None:
    client, stubs = aws
    prefix = SIGNED_PREFIX
    stubs["s3"].add_response("list_objects_v2", {}, {"Bucket": BUCKET, "Prefix": prefix})
    signed = signed_copy(client, deployment, BUCKET, KEY, "function")
    (step,) = signed.steps
    assert step.action == "sign" and signed.key == Ref("function_signed_key")

    stubs["s3"].add_response("head_object", {"VersionId": "v7"}, {"Bucket": BUCKET, "Key": KEY})
    source = {"s3": {"bucketName": BUCKET, "key": KEY, "version": "v7"}}
    stubs["signer"].add_response(
        "start_signing_job",
        {"jobId": "job-1"},
        {
            "source": source,
            "destination": {"s3": {"bucketName": BUCKET, "prefix": prefix}},
            "profileName": "slpack_prod",
        },
    )
    done = {
        "jobId": "job-1",
        "status": "Succeeded",
        "signedObject": {"s3": {"bucketName": BUCKET, "key": SIGNED_KEY}},
    }
    stubs["signer"].add_response("describe_signing_job", done, {"jobId": "job-1"})  # the waiter
    stubs["signer"].add_response("describe_signing_job", done, {"jobId": "job-1"})  # the settle
    stubs["s3"].add_response(
        "get_object", {"Body": _body(SIGNED_ZIP)}, {"Bucket": BUCKET, "Key": SIGNED_KEY}
    )
    values: dict[str, Any] = {}
    for call in step.calls:
        run_call(client, call, values)
    assert values["function_signed_key"] == SIGNED_KEY  # from describe_signing_job's signedObject
    assert values["function_signed_sha"] == SIGNED_SHA  # what Lambda will report as CodeSha256


def test_a_copy_signed_by_an_earlier_deploy_is_reused(aws: Any, deployment: Any) -> None:
    client, stubs = aws
    stubs["s3"].add_response(
        "list_objects_v2",
        {"Contents": [{"Key": SIGNED_KEY}]},
        {"Bucket": BUCKET, "Prefix": SIGNED_PREFIX},
    )
    stubs["s3"].add_response(
        "get_object", {"Body": _body(SIGNED_ZIP)}, {"Bucket": BUCKET, "Key": SIGNED_KEY}
    )
    signed = signed_copy(client, deployment, BUCKET, KEY, "function")
    assert [s.action for s in signed.steps] == ["unchanged"]
    assert (signed.key, signed.code_sha256) == (SIGNED_KEY, SIGNED_SHA)


def test_the_code_signing_configuration_is_created_kept_or_corrected(
    aws: Any, deployment: Any
) -> None:
    client, stubs = aws
    description = "slpack iris: code signed with slpack_prod only"
    enforce = {"UntrustedArtifactOnDeployment": "Enforce"}
    publishers = {"SigningProfileVersionArns": [PROFILE]}
    arn = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1"

    stubs["lambda"].add_response("list_code_signing_configs", {"CodeSigningConfigs": []}, {})
    step, ref = code_signing_config(client, deployment)
    assert step.action == "create" and ref == Ref("code_signing_config")
    created = {
        "CodeSigningConfigId": "csc-1",
        "CodeSigningConfigArn": arn,
        "Description": description,
        "AllowedPublishers": publishers,
        "CodeSigningPolicies": enforce,
        "LastModified": "2026-01-01T00:00:00Z",
    }
    stubs["lambda"].add_response(
        "create_code_signing_config",
        {"CodeSigningConfig": created},
        {
            "Description": description,
            "AllowedPublishers": publishers,
            "CodeSigningPolicies": enforce,
        },
    )
    values: dict[str, Any] = {}
    run_call(client, step.calls[0], values)
    assert values["code_signing_config"] == arn

    stubs["lambda"].add_response("list_code_signing_configs", {"CodeSigningConfigs": [created]}, {})
    step, found = code_signing_config(client, deployment)
    assert step.noop and found == arn

    other = {**created, "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE + "x"]}}
    stubs["lambda"].add_response("list_code_signing_configs", {"CodeSigningConfigs": [other]}, {})
    step, found = code_signing_config(client, deployment)
    assert step.action == "update" and step.calls[0].params["AllowedPublishers"] == publishers


def test_an_existing_function_gets_the_configuration_before_its_code_changes(
    aws: Any, deployment: Any
) -> None:
    client, stubs = aws
    arn = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1"
    stubs["lambda"].add_response(
        "get_function_code_signing_config",
        {"CodeSigningConfigArn": "", "FunctionName": "iris"},
        {"FunctionName": "iris"},
    )
    step = attach(client, deployment, True, arn)
    assert step.action == "attach" and step.calls[0].operation == "put_function_code_signing_config"
    stubs["lambda"].add_response(
        "get_function_code_signing_config",
        {"CodeSigningConfigArn": arn, "FunctionName": "iris"},
        {"FunctionName": "iris"},
    )
    assert attach(client, deployment, True, arn).noop
    assert attach(client, deployment, False, arn).noop  # create_function carries it


def test_a_new_function_is_created_from_the_signed_copy_under_the_configuration(
    deployment: Any,
) -> None:
    state = FunctionState("iris", None, (), None, None, frozenset())
    code = {"S3Bucket": BUCKET, "S3Key": Ref("function_signed_key")}
    steps, _ = function_steps(
        deployment,
        state,
        {"Description": "d", "Role": "r", "Handler": "h", "Runtime": "python3.12"}
        | {"Timeout": 30, "MemorySize": 1024},
        code,
        canary=None,
        url="iam",
        signed_sha256=Ref("function_signed_sha"),
        code_signing=Ref("code_signing_config"),
    )
    create = steps[0].calls[0]
    assert create.params["Code"] == code
    assert create.params["CodeSigningConfigArn"] == Ref("code_signing_config")
    assert create.expect["CodeSha256"] == Ref("function_signed_sha")  # resolved when applied
    publish = next(s for s in steps if s.resource == "version").calls[0]
    assert publish.params["CodeSha256"] == Ref("function_signed_sha")


def test_signing_needs_a_versioned_bucket(aws: Any) -> None:
    client, stubs = aws
    stubs["s3"].add_response("get_bucket_versioning", {}, {"Bucket": BUCKET})
    with pytest.raises(SlpackError, match="put-bucket-versioning"):
        check_versioning(client, BUCKET)
    stubs["s3"].add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": BUCKET})
    check_versioning(client, BUCKET)


def test_a_signing_profile_that_is_not_a_version_arn_is_refused(tmp_path: Path) -> None:
    bundle = write_render_bundle(tmp_path, runtime="python")
    with pytest.raises(SlpackError, match="signing profile version ARN"):
        resolve_bundle(bundle, DeployOptions(bucket=BUCKET, signing_profile="slpack_prod"))


def test_the_plan_signs_then_enforces_then_creates(aws_env: str, tmp_path: Path) -> None:
    """The whole plan on a moto account (S3 versioned, IAM, logs, alarms), Lambda stubbed."""
    from slpack.deploy.aws import connect
    from slpack.deploy.plan import plan_deploy

    options = DeployOptions(bucket=BUCKET, endpoint_url=aws_env, signing_profile=PROFILE)
    d = resolve_bundle(write_render_bundle(tmp_path, runtime="python"), options)
    aws = connect(None, aws_env)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    lam = boto3.client("lambda", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    aws._clients["lambda"] = lam
    with Stubber(lam) as stub:
        stub.add_client_error(
            "get_function_configuration", "ResourceNotFoundException", http_status_code=404
        )
        stub.add_response("list_code_signing_configs", {"CodeSigningConfigs": []}, {})
        plan = plan_deploy(d, options, aws)
        stub.assert_no_pending_responses()
    order = [(s.resource, s.action) for s in plan.steps]
    assert order[:3] == [("s3 object", "upload"), ("signed code", "sign"), ("layer", "unchanged")]
    assert ("code signing", "create") in order and ("function", "create") in order
    assert order.index(("code signing", "create")) < order.index(("function", "create"))
    create = next(s for s in plan.steps if s.resource == "function").calls[0]
    assert create.params["Code"]["S3Key"] == Ref("function_signed_key")
    assert create.params["CodeSigningConfigArn"] == Ref("code_signing_config")
