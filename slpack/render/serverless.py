"""The Serverless Framework target: ``deploy/serverless/serverless.yml``, deployed with ``serverless
deploy``.

The framework packages and creates the function, its log group and the layer; the rest is plain
CloudFormation under ``resources`` so no plugin is needed. Serverless's own versioning is off:
a version resource whose logical id carries the deployment fingerprint is published whenever
code or configuration changes, and the ``live`` alias moves to it through CodeDeploy, as SAM's
``AutoPublishAlias`` + ``DeploymentPreference`` do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from slpack.deployment import ALIAS, HANDLER, Deployment
from slpack.errors import SlpackError
from slpack.render import cloudformation as cfn
from slpack.render.cloudformation import Resource, getatt, managed_policy, ref
from slpack.render.suppressions import skips
from slpack.render.templating import write

FUNCTION_KEY = "predict"  # serverless derives PredictLambdaFunction / PredictLogGroup from it
FUNCTION, LOG_GROUP, LAYER = "PredictLambdaFunction", "PredictLogGroup", "DependenciesLambdaLayer"
CODEDEPLOY_POLICY = "service-role/AWSCodeDeployRoleForLambdaLimited"


def render(d: Deployment, out_dir: Path) -> list[Path]:
    if d.options.signing_profile:
        raise SlpackError(
            "the Serverless Framework uploads function.zip unsigned, and Lambda would refuse it "
            "under a code signing configuration; for --signing-profile render sam or terraform, "
            "or use slpack deploy."
        )
    resources = [cfn.function_role(d, getatt(LOG_GROUP, "Arn"))]
    if d.options.uses_s3_model and d.options.model_bucket is None:
        resources += cfn.model_bucket(d)
    version_id = f"PredictVersion{d.version_fingerprint()[:12]}"
    resources += [_version(d, version_id), *_codedeploy(d), _alias(d, version_id)]
    resources += _endpoint(d)
    resources += cfn.alarm_topic(d) + cfn.alarms(d) + [cfn.dashboard(d)]
    context = {
        "d": d,
        "service": _service_name(d.function_name),
        "framework_version": framework_version(d.python),
        "provider": _provider(d),
        "layers": _layers(d, out_dir),
        "functions": {FUNCTION_KEY: _function(d, out_dir)},
        "resources": resources,
        "outputs": _outputs(d),
        "extensions": _extensions(d),
        "model_path": d.relative(d.model_file, out_dir),
    }
    return [
        write("serverless/serverless.yml.j2", out_dir / "serverless.yml", **context),
        write("serverless/README.md.j2", out_dir / "README.md", **context),
    ]


# The first v3 release whose schema accepts each Lambda Python runtime: Serverless v3.34.0 knows
# python3.10 and 3.11; upstream v3 never accepted python3.12, which only its MIT fork osls added
# (3.41.0; python3.13 in 3.42.0, python3.14 in 3.60.0). v4 accepts python3.12 from 4.0 on. The
# range ends before 5, so a future major version is not assumed to read this file the same way.
OSLS_FLOOR = {
    "3.10": "3.34.0",
    "3.11": "3.34.0",
    "3.12": "3.41.0",
    "3.13": "3.42.0",
    "3.14": "3.60.0",
}


def framework_version(python: str) -> str:
    """``frameworkVersion``: a semver range osls and v4 both satisfy for this runtime."""
    return f">={OSLS_FLOOR[python]} <5"


def _service_name(function_name: str) -> str:
    """Serverless service names start with a letter and hold letters, digits and dashes."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", function_name)
    return name if name[:1].isalpha() else f"slpack-{name}"


def _provider(d: Deployment) -> dict[str, Any]:
    o = d.options
    return {
        "name": "aws",
        "runtime": d.runtime,
        "architecture": d.arch,
        "memorySize": o.memory_mb,
        "timeout": o.timeout_s,
        "logRetentionInDays": o.log_retention_days,
        # the PredictVersion resource publishes, see the module docstring
        "versionFunctions": False,
        "tracing": {"lambda": o.tracing},
        "deploymentBucket": {"blockPublicAccess": True, "serverSideEncryption": "AES256"},
    }


def _layers(d: Deployment, out_dir: Path) -> dict[str, Any]:
    if d.layer is None or d.layer.path is None:
        return {}
    return {
        "dependencies": {
            "name": d.layer.name,
            "description": f"numpy + onnxruntime for {d.runtime} on {d.arch} (slpack layer)",
            "package": {"artifact": d.relative(d.layer.path, out_dir)},
            "compatibleRuntimes": [d.runtime],
            "compatibleArchitectures": [d.arch],
            "retain": True,  # old versions keep working after a rollback
        }
    }


def _function(d: Deployment, out_dir: Path) -> dict[str, Any]:
    o = d.options
    env: dict[str, Any] = d.environment()
    if o.uses_s3_model:
        env["SLPACK_MODEL_URI"] = cfn.model_uri(d)
    function: dict[str, Any] = {
        "name": d.function_name,
        "description": f"slpack {d.name} {d.version}",
        "handler": HANDLER,
        "package": {"artifact": d.relative(d.function_zip, out_dir)},
        "role": "FunctionRole",
        "environment": env,
    }
    if d.needs_layer:  # the python runtime needs none
        # without a layer given: serverless deploy --param="layerArn=arn:aws:lambda:..."
        layer = "${param:layerArn}" if d.layer is None else (d.layer.arn or ref(LAYER))
        function["layers"] = [layer]
    if o.reserved_concurrency is not None:
        function["reservedConcurrency"] = o.reserved_concurrency
    return function


def _extensions(d: Deployment) -> dict[str, Any]:
    """Properties merged into the resources the framework generates.

    SnapStart goes on the function this way rather than with the framework's ``snapStart: true``,
    which would publish a version and an alias of its own beside the ``live`` alias; extensions
    work the same in v4 and osls.
    """
    if not d.options.snapstart:
        return {}
    return {FUNCTION: {"Properties": {"SnapStart": {"ApplyOn": "PublishedVersions"}}}}


def _version(d: Deployment, logical_id: str) -> Resource:
    return Resource(
        logical_id,
        "AWS::Lambda::Version",
        {
            "FunctionName": ref(FUNCTION),
            "Description": f"slpack {d.name} {d.version}",
        },
        attributes={"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
    )


def _codedeploy(d: Deployment) -> list[Resource]:
    """The CodeDeploy application, role and group that shift the alias and roll it back on alarm."""
    return [
        Resource(
            "CodeDeployApplication", "AWS::CodeDeploy::Application", {"ComputePlatform": "Lambda"}
        ),
        Resource(
            "CodeDeployServiceRole",
            "AWS::IAM::Role",
            {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "codedeploy.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [managed_policy(CODEDEPLOY_POLICY)],
            },
        ),
        Resource(
            "CodeDeployDeploymentGroup",
            "AWS::CodeDeploy::DeploymentGroup",
            {
                "ApplicationName": ref("CodeDeployApplication"),
                "ServiceRoleArn": getatt("CodeDeployServiceRole", "Arn"),
                "DeploymentConfigName": f"CodeDeployDefault.Lambda{d.options.deployment}",
                "DeploymentStyle": {
                    "DeploymentType": "BLUE_GREEN",
                    "DeploymentOption": "WITH_TRAFFIC_CONTROL",
                },
                "AutoRollbackConfiguration": {
                    "Enabled": True,
                    "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
                },
                "AlarmConfiguration": {
                    "Enabled": True,
                    "Alarms": [{"Name": a} for a in cfn.rollback_alarm_refs(d)],
                },
            },
        ),
    ]


def _alias(d: Deployment, version_id: str) -> Resource:
    props: dict[str, Any] = {
        "Name": ALIAS,
        "FunctionName": ref(FUNCTION),
        "FunctionVersion": getatt(version_id, "Version"),
    }
    if d.options.provisioned_concurrency:
        props["ProvisionedConcurrencyConfig"] = {
            "ProvisionedConcurrentExecutions": d.options.provisioned_concurrency
        }
    return Resource(
        "LiveAlias",
        "AWS::Lambda::Alias",
        props,
        attributes={
            "UpdatePolicy": {
                "CodeDeployLambdaAliasUpdate": {
                    "ApplicationName": ref("CodeDeployApplication"),
                    "DeploymentGroupName": ref("CodeDeployDeploymentGroup"),
                }
            }
        },
    )


def _endpoint(d: Deployment) -> list[Resource]:
    o = d.options
    if o.endpoint == "url":
        url: dict[str, Any] = {
            "TargetFunctionArn": ref(FUNCTION),
            "Qualifier": ALIAS,
            "AuthType": "NONE" if o.public else "AWS_IAM",
        }
        if cors := d.cors():
            url["Cors"] = cors
        resources = [
            Resource(
                "FunctionUrl",
                "AWS::Lambda::Url",
                url,
                skips("CKV_AWS_258") if o.public else (),
                attributes={"DependsOn": "LiveAlias"},
            )
        ]
        if o.public:
            resources += [
                Resource(
                    "FunctionUrlPublicPermission",
                    "AWS::Lambda::Permission",
                    {
                        "Action": "lambda:InvokeFunctionUrl",
                        "FunctionName": ref("LiveAlias"),
                        "Principal": "*",
                        "FunctionUrlAuthType": "NONE",
                    },
                ),
                cfn.public_url_invoke_permission("FunctionUrlInvokePermission", ref("LiveAlias")),
            ]
        return resources
    return cfn.http_api(d, ref("LiveAlias")) if o.endpoint == "http-api" else []


def _outputs(d: Deployment) -> dict[str, Any]:
    url, function_arn = getatt("FunctionUrl", "FunctionUrl"), getatt(FUNCTION, "Arn")
    return cfn.outputs(d, url=url, function_arn=function_arn, alias_arn=ref("LiveAlias"))
