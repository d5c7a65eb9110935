"""Compute a deploy plan: read what AWS has, compare with the bundle, list the steps that differ.

Nothing here writes to AWS. The plan's order is the order of dependencies: artifacts in S3, the
layer version, the execution role and log group, the function (:mod:`slpack.deploy.function`),
then the alarms. Artifacts are stored under keys named by their SHA-256, so a key that exists
holds exactly those bytes and is never uploaded twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slpack.alarms import alarm_properties
from slpack.bundler.bundle import FUNCTION_ZIP
from slpack.deploy.aws import PERMISSIONS_DOC, Aws, error_code, unless_missing
from slpack.deploy.function import configuration, function_steps
from slpack.deploy.options import DeployOptions
from slpack.deploy.signing import attach, check_versioning, code_signing_config, signed_copy
from slpack.deploy.state import read_function
from slpack.deploy.steps import Call, Plan, Ref, Step, unchanged
from slpack.deployment import Deployment
from slpack.errors import SlpackError
from slpack.layer.sizes import mib
from slpack.ziputil import sha256_file

ROLE_POLICY_NAME = "slpack-function"
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
)  # what Lambda's active tracing writes
_ROLE_DETAIL = "Lambda execution role: its own log group and traces"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def plan_deploy(d: Deployment, options: DeployOptions, aws: Aws) -> Plan:
    """Every step that makes AWS match the bundle ``d``; a no-op step for what already does."""
    bucket, signing = options.bucket, d.options.signing_profile is not None
    check_bucket(aws, bucket)
    if signing:
        check_versioning(aws, bucket)
    code_key = f"slpack/{d.function_name}/{d.code_sha256}/{FUNCTION_ZIP}"
    steps = [upload_step(aws, bucket, code_key, d.function_zip)]
    code: dict[str, Any] = {"S3Bucket": bucket, "S3Key": code_key}
    signed = signed_copy(aws, d, bucket, code_key, "function") if signing else None
    if signed is not None:
        steps += signed.steps
        code["S3Key"] = signed.key
    layer_steps, layer_arn = _layer(aws, d, bucket)
    role_step, role_arn = _role(aws, d, options.role)
    steps += [*layer_steps, role_step, _log_group(aws, d)]
    state = read_function(aws.client("lambda"), d.function_name)
    config_arn: str | Ref | None = None
    if signing:
        config_step, config_arn = code_signing_config(aws, d)
        steps += [config_step, attach(aws, d, state.exists, config_arn)]
    config = configuration(d, role_arn, layer_arn)
    function, outputs = function_steps(
        d,
        state,
        config,
        code,
        canary=options.canary,
        url=options.url,
        signed_sha256=signed.code_sha256 if signed is not None else None,
        code_signing=config_arn,
    )
    steps += [*function, _concurrency(aws, d, state.exists), *_alarms(aws, d)]
    return Plan(d.function_name, aws.region, tuple(steps), outputs)


def check_bucket(aws: Aws, bucket: str) -> None:
    """The code bucket must exist, be writable, and be in the function's region (Lambda requires
    it)."""
    try:
        head = aws.client("s3").head_bucket(Bucket=bucket)
    except Exception as exc:
        code = error_code(exc)
        if code in {"404", "NoSuchBucket", "NotFound"}:
            raise SlpackError(
                f"the S3 bucket {bucket} does not exist; create it (aws s3 mb s3://{bucket} "
                f"--region {aws.region}) "
                "or pass an existing bucket with --bucket."
            ) from None
        if code in {"403", "AccessDenied"}:
            raise SlpackError(
                f"access to the S3 bucket {bucket} is denied; pass a bucket you can write "
                f"to, or see {PERMISSIONS_DOC} "
                "for the permissions deploy needs."
            ) from None
        raise
    region = head.get("BucketRegion")
    if region and region != aws.region:
        raise SlpackError(
            f"the S3 bucket {bucket} is in {region} but the function goes to {aws.region}, "
            "and Lambda reads code only "
            f"from its own region; pass --region {region} or a bucket in {aws.region}."
        )


def upload_step(aws: Aws, bucket: str, key: str, path: Path) -> Step:
    """Upload ``path`` to ``key`` unless an object of that (content-named) key and size is there."""
    size = path.stat().st_size
    head = unless_missing(lambda: aws.client("s3").head_object(Bucket=bucket, Key=key))
    where = f"s3://{bucket}/{key}"
    if head is not None and head.get("ContentLength") == size:
        return unchanged("s3 object", where, f"{path.name} is already uploaded")
    upload = Call("s3", "upload_file", {"Filename": path, "Bucket": bucket, "Key": key})
    return Step("s3 object", where, "upload", f"{path.name}, {mib(size)}", (upload,))


def _layer(aws: Aws, d: Deployment, bucket: str) -> tuple[list[Step], str | Ref | None]:
    """Use the layer ARN given, or the published version holding this zip, or publish one; no
    layer at all for a bundle on the python runtime."""
    layer = d.layer
    if layer is None:  # resolve_bundle settles one for every bundle that needs it
        return [
            unchanged("layer", d.function_name, f"none: {d.runtime_description} is stdlib-only")
        ], None
    if layer.arn:
        return [unchanged("layer", layer.arn, "given as a layer version ARN")], layer.arn
    assert layer.path is not None
    sha, name, profile = sha256_file(layer.path), layer.name, d.options.signing_profile_name
    # a version published from a signed copy says so, and only such a version serves a signed
    # function (Lambda checks the layers' signatures too)
    description = f"slpack layer sha256 {sha}" + (f" signed by {profile}" if profile else "")
    pages = aws.client("lambda").get_paginator("list_layer_versions").paginate(LayerName=name)
    for page in pages:
        for version in page["LayerVersions"]:
            if description in (version.get("Description") or ""):
                detail = f"version {version['Version']} holds {layer.path.name} (sha256 {sha[:12]})"
                return [unchanged("layer", version["LayerVersionArn"], detail)], version[
                    "LayerVersionArn"
                ]
    key = f"slpack/layers/{sha}/{layer.path.name}"
    signed = signed_copy(aws, d, bucket, key, "layer") if profile else None
    publish = Call(
        "lambda",
        "publish_layer_version",
        {
            "LayerName": name,
            "Description": description,
            "Content": {"S3Bucket": bucket, "S3Key": signed.key if signed else key},
            "CompatibleRuntimes": [d.runtime],
            "CompatibleArchitectures": [d.arch],
        },
        outputs={"layer": "LayerVersionArn"},
    )
    detail = f"numpy + onnxruntime for {d.runtime} on {d.arch} (sha256 {sha[:12]})"
    return [
        upload_step(aws, bucket, key, layer.path),
        *(signed.steps if signed else []),
        Step("layer", name, "publish", detail, (publish,)),
    ], Ref("layer")


def role_name_for(function_name: str) -> str:
    """The execution role deploy creates: ``slpack-<function>-role`` (IAM allows 64 characters)."""
    return f"slpack-{function_name}"[:59] + "-role"


def _role(aws: Aws, d: Deployment, given: str | None) -> tuple[Step, str]:
    """The execution role: the one given, or ``slpack-<function>-role`` (created or brought up to
    date).

    Like the templates' role it may write its own log group and nothing else (plus X-Ray traces
    when tracing is on): the log group is created by the deploy, not by the function.
    """
    if given:
        return unchanged("role", given, "given with --role"), given
    iam, name = aws.client("iam"), role_name_for(d.function_name)
    arn = f"arn:{aws.partition}:iam::{aws.account}:role/{name}"
    statements = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": (
                f"arn:{aws.partition}:logs:{aws.region}:{aws.account}"
                f":log-group:{d.log_group_name}:*"
            ),
        }
    ]
    if d.options.tracing:  # X-Ray's write actions take no resource-level permissions
        statements.append(
            {"Sid": "WriteTraces", "Effect": "Allow", "Action": list(XRAY_ACTIONS), "Resource": "*"}
        )
    policy = {"Version": "2012-10-17", "Statement": statements}
    put_policy = Call(
        "iam",
        "put_role_policy",
        {"RoleName": name, "PolicyName": ROLE_POLICY_NAME, "PolicyDocument": json.dumps(policy)},
    )
    if unless_missing(lambda: iam.get_role(RoleName=name)) is None:
        create = Call(
            "iam",
            "create_role",
            {
                "RoleName": name,
                "AssumeRolePolicyDocument": json.dumps(_TRUST),
                "Description": f"slpack function {d.function_name}: its own logs and traces, "
                "nothing else",
            },
        )
        return Step("role", name, "create", _ROLE_DETAIL, (create, put_policy)), arn
    current = unless_missing(
        lambda: iam.get_role_policy(RoleName=name, PolicyName=ROLE_POLICY_NAME)
    )
    if current is not None and current["PolicyDocument"] == policy:
        return unchanged("role", name, _ROLE_DETAIL), arn
    return Step(
        "role", name, "update", f"restore its policy {ROLE_POLICY_NAME}", (put_policy,)
    ), arn


def _log_group(aws: Aws, d: Deployment) -> Step:
    """The function's log group, created ahead of the function so it has a retention (not
    forever)."""
    name, days = d.log_group_name, d.options.log_retention_days
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    found = next((g for g in groups if g["logGroupName"] == name), None)
    retention = Call(
        "logs", "put_retention_policy", {"logGroupName": name, "retentionInDays": days}
    )
    if found is None:
        return Step(
            "log group",
            name,
            "create",
            f"{days} days retention",
            (Call("logs", "create_log_group", {"logGroupName": name}), retention),
        )
    if found.get("retentionInDays") != days:
        return Step(
            "log group",
            name,
            "update",
            f"retention {found.get('retentionInDays') or 'forever'} → {days} days",
            (retention,),
        )
    return unchanged("log group", name, f"{days} days retention")


def _concurrency(aws: Aws, d: Deployment, exists: bool) -> Step:
    """The function's reserved concurrency: set when asked for (always for a public URL, 10 unless
    --reserved-concurrency says otherwise); left as it is otherwise."""
    fn, wanted = d.function_name, d.options.reserved_concurrency
    if wanted is None:
        return unchanged("concurrency", fn, "not managed (pass --reserved-concurrency N to cap it)")
    current = (
        aws.client("lambda")
        .get_function_concurrency(FunctionName=fn)
        .get("ReservedConcurrentExecutions")
        if exists
        else None
    )
    detail = f"at most {wanted} concurrent executions"
    if current == wanted:
        return unchanged("concurrency", fn, detail)
    put = Call(
        "lambda",
        "put_function_concurrency",
        {"FunctionName": fn, "ReservedConcurrentExecutions": wanted},
    )
    return Step("concurrency", fn, "set", f"{detail} (was {current or 'uncapped'})", (put,))


def _alarms(aws: Aws, d: Deployment) -> list[Step]:
    """The alarms of :mod:`slpack.alarms` (the templates' alarms), put where missing or
    different."""
    target = d.alarm_target()
    actions = [d.options.alarm_topic_arn] if d.options.alarm_topic_arn else []
    wanted = [alarm_properties(spec, target, actions=actions) for spec in d.alarms()]
    if not wanted:
        return []
    response = aws.client("cloudwatch").describe_alarms(AlarmNames=[w["AlarmName"] for w in wanted])
    existing = {a["AlarmName"]: a for a in response["MetricAlarms"]}
    steps = []
    for props in wanted:
        name, current = props["AlarmName"], existing.get(props["AlarmName"])
        full = {
            "AlarmActions": [],
            "OKActions": [],
            **props,
        }  # so removed actions count as a difference
        if current is not None and _project(current, full) == full:
            steps.append(unchanged("alarm", name, props["AlarmDescription"]))
        else:
            action = "create" if current is None else "update"
            steps.append(
                Step(
                    "alarm",
                    name,
                    action,
                    props["AlarmDescription"],
                    (Call("cloudwatch", "put_metric_alarm", props),),
                )
            )
    return steps


def _project(have: Any, shape: Any) -> Any:
    """``have`` cut down to the keys ``shape`` has (AWS adds its own keys, such as ARNs and
    state)."""
    if isinstance(shape, dict) and isinstance(have, dict):
        return {k: _project(have.get(k), v) for k, v in shape.items()}
    if isinstance(shape, list) and isinstance(have, list) and len(shape) == len(have):
        return [_project(h, s) for h, s in zip(have, shape)]
    return have
