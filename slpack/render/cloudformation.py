"""CloudFormation building blocks shared by the SAM and Serverless targets.

Both targets end up as a CloudFormation stack, so the resources that are not the function
itself (role, model bucket, alarm topic, alarms, dashboard) are built once here. Strings that
need the region or account use ``Fn::Join`` rather than ``Fn::Sub``: the Serverless Framework
would try to resolve ``${...}`` as its own variables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from slpack.alarms import alarm_properties
from slpack.deployment import Deployment
from slpack.render.dashboard import ACCOUNT_MARK, PARTITION_MARK, REGION_MARK, dashboard_json
from slpack.render.suppressions import Skip, log_group_skips, model_bucket_skips, skips

PARTITION, REGION, ACCOUNT = (
    {"Ref": "AWS::Partition"},
    {"Ref": "AWS::Region"},
    {"Ref": "AWS::AccountId"},
)
XRAY_POLICY = "AWSXRayDaemonWriteAccess"  # X-Ray's write actions take no resource-level permissions
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod",'
    '"path":"$context.path","status":"$context.status","latencyMs":"$context.responseLatency",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def getatt(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def join(*parts: Any) -> dict[str, Any]:
    """``Fn::Join`` with no separator, merging adjacent literal strings."""
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return {"Fn::Join": ["", merged]}


def managed_policy(name: str) -> dict[str, Any]:
    return join("arn:", PARTITION, f":iam::aws:policy/{name}")


@dataclass
class Resource:
    """One template resource, with the checkov findings it accepts (rendered as comments)."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    skips: tuple[Skip, ...] = ()
    attributes: dict[str, Any] = field(
        default_factory=dict
    )  # DependsOn, UpdatePolicy, DeletionPolicy...

    def body(self) -> dict[str, Any]:
        return {"Type": self.type, **self.attributes, "Properties": self.properties}


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors or aliases (shared dicts are written out each time), no line
    folding."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def yaml_block(value: Any, indent: int = 0) -> str:
    """``value`` as block YAML indented by ``indent`` spaces (no trailing newline); scalars
    inline."""
    if not isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)  # JSON scalars are YAML scalars
    text = yaml.dump(
        value,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=1 << 30,
        allow_unicode=True,
    )
    pad = " " * indent
    return "\n".join(pad + line if line else line for line in text.rstrip("\n").split("\n"))


def resources_yaml(resources: list[Resource], indent: int) -> str:
    """The ``Resources`` mapping, each suppression as a comment inside its resource.

    checkov reads ``# checkov:skip=`` comments within a resource's lines, so they go right
    after its ``Type`` line.
    """
    pad = " " * indent
    out: list[str] = []
    for r in resources:
        first, *rest = yaml_block(r.body(), indent + 2).split("\n")
        out += [f"{pad}{r.logical_id}:", first]
        out += [f"{pad}  # checkov:skip={s.check}: {s.reason}" for s in r.skips]
        out += rest
    return "\n".join(out)


# --- shared resources ----------------------------------------------------------------------


def log_group(d: Deployment, logical_id: str, name: Any) -> Resource:
    retention = d.options.log_retention_days
    return Resource(
        logical_id,
        "AWS::Logs::LogGroup",
        {"LogGroupName": name, "RetentionInDays": retention},
        log_group_skips(retention),
    )


def model_bucket_name(d: Deployment) -> Any:
    return d.options.model_bucket or ref("ModelBucket")


def model_uri(d: Deployment) -> Any:
    return join("s3://", model_bucket_name(d), "/", d.model_key)


def model_bucket(d: Deployment) -> list[Resource]:
    """A private, versioned, TLS-only bucket for the model (when the template creates it)."""
    bucket_arn = getatt("ModelBucket", "Arn")
    return [
        Resource(
            "ModelBucket",
            "AWS::S3::Bucket",
            {
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "abort-incomplete-uploads",
                            "Status": "Enabled",
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        }
                    ]
                },
            },
            model_bucket_skips(),
            {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
        ),
        Resource(
            "ModelBucketPolicy",
            "AWS::S3::BucketPolicy",
            {
                "Bucket": ref("ModelBucket"),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, join(bucket_arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        ),
    ]


def function_role(d: Deployment, log_group_arn: Any) -> Resource:
    """The function's role: write its own log group, read its own model object, nothing else."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group_arn,
        }
    ]
    if d.options.uses_s3_model:
        statements.append(
            {
                "Sid": "ReadModel",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": join(
                    "arn:", PARTITION, ":s3:::", model_bucket_name(d), "/", d.model_key
                ),
            }
        )
    props: dict[str, Any] = {
        "Description": f"slpack function {d.function_name}: its logs and its model, nothing else",
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        "Policies": [
            {
                "PolicyName": "function",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ],
    }
    if d.options.tracing:
        props["ManagedPolicyArns"] = [managed_policy(XRAY_POLICY)]
    return Resource("FunctionRole", "AWS::IAM::Role", props)


def alarm_actions(d: Deployment) -> list[Any]:
    if d.options.creates_topic:
        return [ref("AlarmTopic")]
    return [d.options.alarm_topic_arn] if d.options.alarm_topic_arn else []


def alarm_topic(d: Deployment) -> list[Resource]:
    if not d.options.creates_topic:
        return []
    topic = {"DisplayName": f"slpack alarms: {d.function_name}"}
    resources = [Resource("AlarmTopic", "AWS::SNS::Topic", topic, skips("CKV_AWS_26"))]
    for i, email in enumerate(d.options.alarm_emails):
        resources.append(
            Resource(
                f"AlarmEmail{i + 1}",
                "AWS::SNS::Subscription",
                {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": email},
            )
        )
    return resources


def alarms(d: Deployment) -> list[Resource]:
    target, actions = d.alarm_target(), alarm_actions(d)
    return [
        Resource(
            spec.logical_id,
            "AWS::CloudWatch::Alarm",
            alarm_properties(spec, target, actions=actions),
        )
        for spec in d.alarms()
    ]


def rollback_alarm_refs(d: Deployment) -> list[dict[str, str]]:
    """The alarms that stop a gradual deployment and roll the alias back."""
    return [ref(spec.logical_id) for spec in d.alarms() if spec.rollback]


_MARKS = {PARTITION_MARK: PARTITION, REGION_MARK: REGION, ACCOUNT_MARK: ACCOUNT}


def _join_marked(text: str) -> dict[str, Any]:
    """``Fn::Join`` of ``text`` with the dashboard marks replaced by pseudo-parameter refs."""
    parts: list[Any] = [text]
    for mark, value in _MARKS.items():
        parts = [
            piece
            for part in parts
            for piece in (_split(part, mark, value) if isinstance(part, str) else [part])
        ]
    return join(*parts)


def _split(text: str, mark: str, value: Any) -> list[Any]:
    pieces = text.split(mark)
    out: list[Any] = [pieces[0]]
    for piece in pieces[1:]:
        out += [value, piece]
    return out


def dashboard(d: Deployment) -> Resource:
    return Resource(
        "Dashboard",
        "AWS::CloudWatch::Dashboard",
        {
            "DashboardName": d.function_name,
            "DashboardBody": _join_marked(dashboard_json(d)),
        },
    )


def dashboard_url(d: Deployment) -> dict[str, Any]:
    return join(
        "https://",
        REGION,
        ".console.aws.amazon.com/cloudwatch/home?region=",
        REGION,
        f"#dashboards:name={d.function_name}",
    )


def public_url_invoke_permission(logical_id: str, alias_arn: Any) -> Resource:
    """Since October 2025 a public Function URL also needs ``lambda:InvokeFunction`` via the URL."""
    return Resource(
        logical_id,
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": alias_arn,
            "Principal": "*",
            "InvokedViaFunctionUrl": True,
        },
    )


def http_api(d: Deployment, alias_arn: Any) -> list[Resource]:
    """An HTTP API whose ``$default`` route sends every request to the alias (IAM-authenticated
    unless public)."""
    public = d.options.public
    api: dict[str, Any] = {"Name": d.function_name, "ProtocolType": "HTTP"}
    if cors_config := d.cors():
        api["CorsConfiguration"] = cors_config
    return [
        Resource("HttpApi", "AWS::ApiGatewayV2::Api", api),
        Resource(
            "HttpApiIntegration",
            "AWS::ApiGatewayV2::Integration",
            {
                "ApiId": ref("HttpApi"),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": alias_arn,
                "PayloadFormatVersion": "2.0",
            },
        ),
        Resource(
            "HttpApiRoute",
            "AWS::ApiGatewayV2::Route",
            {
                "ApiId": ref("HttpApi"),
                "RouteKey": "$default",
                "AuthorizationType": "NONE" if public else "AWS_IAM",
                "Target": join("integrations/", ref("HttpApiIntegration")),
            },
            skips("CKV_AWS_309") if public else (),
        ),
        log_group(d, "ApiLogGroup", f"/aws/vendedlogs/slpack/{d.function_name}/api"),
        Resource(
            "HttpApiStage",
            "AWS::ApiGatewayV2::Stage",
            {
                "ApiId": ref("HttpApi"),
                "StageName": "$default",
                "AutoDeploy": True,
                "AccessLogSettings": {
                    "DestinationArn": getatt("ApiLogGroup", "Arn"),
                    "Format": ACCESS_LOG_FORMAT,
                },
            },
        ),
        Resource(
            "HttpApiInvokePermission",
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": alias_arn,
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": join(
                    "arn:",
                    PARTITION,
                    ":execute-api:",
                    REGION,
                    ":",
                    ACCOUNT,
                    ":",
                    ref("HttpApi"),
                    "/*",
                ),
            },
        ),
    ]


def outputs(d: Deployment, *, url: Any, function_arn: Any, alias_arn: Any) -> dict[str, Any]:
    """The stack outputs: endpoint, function and alias ARNs, dashboard link, model location."""
    out: dict[str, Any] = {}
    if d.options.endpoint == "url":
        out["EndpointUrl"] = {"Description": "Function URL of the live alias", "Value": url}
    elif d.options.endpoint == "http-api":
        out["EndpointUrl"] = {
            "Description": "HTTP API endpoint (routes to the live alias)",
            "Value": getatt("HttpApi", "ApiEndpoint"),
        }
    out["FunctionArn"] = {"Description": "The function (unqualified)", "Value": function_arn}
    out["AliasArn"] = {
        "Description": "The live alias, which every deploy moves",
        "Value": alias_arn,
    }
    out["DashboardUrl"] = {"Description": "CloudWatch dashboard", "Value": dashboard_url(d)}
    if d.options.uses_s3_model:
        out["ModelUri"] = {
            "Description": "Where the function fetches its model",
            "Value": model_uri(d),
        }
    return out
