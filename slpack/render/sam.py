"""The AWS SAM target: ``deploy/sam/template.yaml`` + ``samconfig.toml``, deployed with ``sam
deploy``.

SAM does the alias work itself: ``AutoPublishAlias`` publishes a version on every change and
``DeploymentPreference`` shifts traffic through CodeDeploy, rolling back on the rollback alarms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slpack.deployment import ALIAS, HANDLER, LAYER_ARN, Deployment
from slpack.render import cloudformation as cfn
from slpack.render.cloudformation import Resource, getatt, ref
from slpack.render.suppressions import function_skips
from slpack.render.templating import write


def render(d: Deployment, out_dir: Path) -> list[Path]:
    resources, parameters, layers = _layer(d, out_dir)
    resources += [
        cfn.log_group(d, "LogGroup", d.log_group_name),
        cfn.function_role(d, getatt("LogGroup", "Arn")),
    ]
    if d.options.uses_s3_model and d.options.model_bucket is None:
        resources += cfn.model_bucket(d)
    if d.options.signing_profile:
        resources.append(_code_signing_config(d))
    function = _function(d, out_dir, layers)
    resources.append(function)
    resources += _endpoint(d)
    resources += cfn.alarm_topic(d) + cfn.alarms(d) + [cfn.dashboard(d)]
    context = {
        "d": d,
        "parameters": parameters,
        "resources": resources,
        "outputs": _outputs(d),
        "stack_name": f"slpack-{d.function_name}",
        "model_path": d.relative(d.model_file, out_dir),
        "signing_profiles": _signing_profiles(d, resources),
    }
    return [
        write("sam/template.yaml.j2", out_dir / "template.yaml", **context),
        write("sam/samconfig.toml.j2", out_dir / "samconfig.toml", **context),
        write("sam/README.md.j2", out_dir / "README.md", **context),
    ]


def _layer(d: Deployment, out_dir: Path) -> tuple[list[Resource], dict[str, Any], list[Any]]:
    """The layer resource (a local zip), a ``LayerArn`` parameter (none given), the given ARN, or
    nothing at all for a bundle on the python runtime."""
    if not d.needs_layer:
        return [], {}, []
    if d.layer is None:
        param = {
            "Type": "String",
            "AllowedPattern": LAYER_ARN.pattern,
            "Description": f"numpy + onnxruntime layer for {d.runtime} on {d.arch} (from "
            "slpack layer)",
        }
        return [], {"LayerArn": param}, [ref("LayerArn")]
    if d.layer.arn:
        return [], {}, [d.layer.arn]
    assert d.layer.path is not None
    layer = Resource(
        "DependencyLayer",
        "AWS::Serverless::LayerVersion",
        {
            "LayerName": d.layer.name,
            "Description": f"numpy + onnxruntime for {d.runtime} on {d.arch} (slpack layer)",
            "ContentUri": d.relative(d.layer.path, out_dir),
            "CompatibleRuntimes": [d.runtime],
            "CompatibleArchitectures": [d.arch],
            "RetentionPolicy": "Retain",  # old versions keep working after rollback
        },
    )
    return [layer], {}, [ref("DependencyLayer")]


def _function(d: Deployment, out_dir: Path, layers: list[Any]) -> Resource:
    o = d.options
    env: dict[str, Any] = d.environment()
    if o.uses_s3_model:
        env["SLPACK_MODEL_URI"] = cfn.model_uri(d)
    props: dict[str, Any] = {
        "FunctionName": d.function_name,
        "Description": f"slpack {d.name} {d.version}",
        "CodeUri": d.relative(d.function_zip, out_dir),
        "Handler": HANDLER,
        "Runtime": d.runtime,
        "Architectures": [d.arch],
        "MemorySize": o.memory_mb,
        "Timeout": o.timeout_s,
        "Role": getatt("FunctionRole", "Arn"),
        **({"Layers": layers} if layers else {}),
        "Environment": {"Variables": env},
        "Tracing": "Active" if o.tracing else "PassThrough",
        "LoggingConfig": {"LogGroup": ref("LogGroup"), "LogFormat": "Text"},
        "AutoPublishAlias": ALIAS,
        "DeploymentPreference": {"Type": o.deployment, "Alarms": cfn.rollback_alarm_refs(d)},
    }
    if o.reserved_concurrency is not None:
        props["ReservedConcurrentExecutions"] = o.reserved_concurrency
    if o.signing_profile:
        props["CodeSigningConfigArn"] = getatt("CodeSigningConfig", "CodeSigningConfigArn")
    if o.snapstart:
        props["SnapStart"] = {"ApplyOn": "PublishedVersions"}
    if o.provisioned_concurrency:
        props["ProvisionedConcurrencyConfig"] = {
            "ProvisionedConcurrentExecutions": o.provisioned_concurrency
        }
    if o.endpoint == "url":
        props["FunctionUrlConfig"] = {"AuthType": "NONE" if o.public else "AWS_IAM"}
        if cors := d.cors():
            props["FunctionUrlConfig"]["Cors"] = cors
    return Resource(
        "Function",
        "AWS::Serverless::Function",
        props,
        function_skips(o.reserved_concurrency, signed=o.signing_profile is not None),
    )


def _code_signing_config(d: Deployment) -> Resource:
    """Lambda refuses any code or layer not signed with the given profile (``Enforce``)."""
    return Resource(
        "CodeSigningConfig",
        "AWS::Lambda::CodeSigningConfig",
        {
            "Description": f"slpack {d.function_name}: code signed with "
            f"{d.options.signing_profile_name} only",
            "AllowedPublishers": {"SigningProfileVersionArns": [d.options.signing_profile]},
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
        },
    )


def _signing_profiles(d: Deployment, resources: list[Resource]) -> str | None:
    """``sam deploy --signing-profiles``: the function, and the layer SAM uploads, signed with the
    profile before they are deployed (a layer given as an ARN must be signed already)."""
    name = d.options.signing_profile_name
    if name is None:
        return None
    signed = ["Function"] + [r.logical_id for r in resources if r.logical_id == "DependencyLayer"]
    return " ".join(f"{logical_id}={name}" for logical_id in signed)


def _endpoint(d: Deployment) -> list[Resource]:
    o = d.options
    if o.endpoint == "url":
        return (
            [cfn.public_url_invoke_permission("FunctionUrlInvokePermission", ref("Function.Alias"))]
            if o.public
            else []
        )
    return cfn.http_api(d, ref("Function.Alias")) if o.endpoint == "http-api" else []


def _outputs(d: Deployment) -> dict[str, Any]:
    # SAM names what it generates: FunctionUrl for the URL, Function.Alias for the alias.
    url, function_arn = getatt("FunctionUrl", "FunctionUrl"), getatt("Function", "Arn")
    return cfn.outputs(d, url=url, function_arn=function_arn, alias_arn=ref("Function.Alias"))
