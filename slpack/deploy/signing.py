"""Code signing in the plan (``--signing-profile``): sign the zips, enforce the signature.

With a signing profile, Lambda must run only code its owner signed: function.zip (and a layer
zip deploy publishes) is signed by an AWS Signer job into ``signed/<profile>/<version>/`` beside
the unsigned upload, the function and layer are created from the signed copies, and a
code signing configuration allowing that profile version alone, with ``Enforce``, is attached
to the function before its code changes. Signer reads only versioned objects, so the bucket
must have versioning on.

A signed copy is made once per zip: a later deploy finds it under the same prefix and compares
Lambda's ``CodeSha256`` with the copy's own hash (read back from S3). A new copy's hash is only
known once Signer wrote it, so the plan carries it as a :class:`Ref` the signing step fills in
(:func:`slpack.deploy.apply.run_call` hashes the object, as it uploads files, in its own way).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from slpack.deploy.aws import Aws, unless_missing
from slpack.deploy.steps import Call, Ref, Step, unchanged
from slpack.deployment import Deployment
from slpack.errors import SlpackError

ENFORCE = {"UntrustedArtifactOnDeployment": "Enforce"}
SIGNED_SHA256 = "sha256_object"  # apply's own operation: an S3 object's hash as Lambda reports it


@dataclass(frozen=True)
class Signed:
    """Where a zip's signed copy is (or will be) and its hash the way Lambda reports it."""

    steps: list[Step]
    key: str | Ref
    code_sha256: str | Ref  # base64 of the digest, as Lambda's CodeSha256


def check_versioning(aws: Aws, bucket: str) -> None:
    """Signer signs only versioned objects: refuse a bucket without versioning, saying how."""
    status = aws.client("s3").get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        raise SlpackError(
            f"code signing needs versioning on the bucket {bucket} (AWS Signer signs only "
            f"versioned objects); turn it on with aws s3api put-bucket-versioning --bucket "
            f"{bucket} --versioning-configuration Status=Enabled, or pass another --bucket."
        )


def signed_copy(aws: Aws, d: Deployment, bucket: str, key: str, name: str) -> Signed:
    """The signed copy of the object ``key`` (``name`` distinguishes its Refs: function, layer):
    found from an earlier deploy, or a step that signs it."""
    profile, arn = d.options.signing_profile_name, d.options.signing_profile
    assert profile is not None and arn is not None  # only called with a signing profile
    # one folder per profile version: a copy another profile signed is never reused
    prefix = f"{key.rsplit('/', 1)[0]}/signed/{profile}/{arn.rsplit('/', 1)[1]}/"
    s3 = aws.client("s3")
    found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents") or []
    if found:
        signed_key = str(found[0]["Key"])
        sha = object_sha256(s3, Bucket=bucket, Key=signed_key)["CodeSha256"]
        detail = f"signed with {profile} by an earlier deploy"
        return Signed([unchanged("signed code", signed_key, detail)], signed_key, sha)
    job, version = Ref(f"{name}_job"), Ref(f"{name}_version")
    new_key, new_sha = Ref(f"{name}_signed_key"), Ref(f"{name}_signed_sha")
    calls = (
        Call(
            "s3", "head_object", {"Bucket": bucket, "Key": key}, outputs={version.name: "VersionId"}
        ),
        Call(
            "signer",
            "start_signing_job",
            {
                "source": {"s3": {"bucketName": bucket, "key": key, "version": version}},
                "destination": {"s3": {"bucketName": bucket, "prefix": prefix}},
                "profileName": profile,
            },
            outputs={job.name: "jobId", new_key.name: "signedObject.s3.key"},
            wait="successful_signing_job",
            wait_args={"jobId": job},
            settle="describe_signing_job",
        ),
        Call(
            "s3",
            SIGNED_SHA256,
            {"Bucket": bucket, "Key": new_key},
            outputs={new_sha.name: "CodeSha256"},
        ),
    )
    detail = f"AWS Signer signs s3://{bucket}/{key} with {profile}"
    return Signed([Step("signed code", prefix, "sign", detail, calls)], new_key, new_sha)


def object_sha256(client: Any, Bucket: str, Key: str) -> dict[str, str]:
    """An S3 object's ``CodeSha256`` (base64 of its SHA-256), read in blocks."""
    digest = hashlib.sha256()
    body = client.get_object(Bucket=Bucket, Key=Key)["Body"]
    for block in iter(lambda: body.read(1 << 20), b""):
        digest.update(block)
    return {"CodeSha256": base64.b64encode(digest.digest()).decode()}


def code_signing_config(aws: Aws, d: Deployment) -> tuple[Step, str | Ref]:
    """The function's code signing configuration: the one deploy made before (found by its
    description), brought to this profile version, or a new one."""
    profile_arn, fn = d.options.signing_profile, d.function_name
    description = f"slpack {fn}: code signed with {d.options.signing_profile_name} only"
    publishers = {"SigningProfileVersionArns": [profile_arn]}
    pages = aws.client("lambda").get_paginator("list_code_signing_configs").paginate()
    mine = next(
        (
            c
            for page in pages
            for c in page["CodeSigningConfigs"]
            if c.get("Description") == description
        ),
        None,
    )
    if mine is None:
        create = Call(
            "lambda",
            "create_code_signing_config",
            {
                "Description": description,
                "AllowedPublishers": publishers,
                "CodeSigningPolicies": ENFORCE,
            },
            outputs={"code_signing_config": "CodeSigningConfig.CodeSigningConfigArn"},
        )
        return Step("code signing", fn, "create", description, (create,)), Ref(
            "code_signing_config"
        )
    arn = str(mine["CodeSigningConfigArn"])
    if mine.get("AllowedPublishers") == publishers and mine.get("CodeSigningPolicies") == ENFORCE:
        return unchanged("code signing", arn, description), arn
    update = Call(
        "lambda",
        "update_code_signing_config",
        {
            "CodeSigningConfigArn": arn,
            "AllowedPublishers": publishers,
            "CodeSigningPolicies": ENFORCE,
        },
    )
    return Step(
        "code signing", arn, "update", f"allow {profile_arn} only, enforced", (update,)
    ), arn


def attach(aws: Aws, d: Deployment, exists: bool, config_arn: str | Ref) -> Step:
    """Attach the configuration to an existing function before its code changes (a new function
    gets it in ``create_function``)."""
    fn = d.function_name
    if not exists:
        return unchanged("code signing", fn, "set when the function is created")
    lam = aws.client("lambda")
    current = unless_missing(lambda: lam.get_function_code_signing_config(FunctionName=fn)) or {}
    if current.get("CodeSigningConfigArn") == config_arn:
        return unchanged("code signing", fn, "the function enforces it")
    put = Call(
        "lambda",
        "put_function_code_signing_config",
        {"CodeSigningConfigArn": config_arn, "FunctionName": fn},
    )
    return Step("code signing", fn, "attach", "Lambda refuses unsigned code from now on", (put,))
