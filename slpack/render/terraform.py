"""The Terraform target: ``deploy/terraform/*.tf``, deployed with ``terraform init && terraform
apply``.

Every apply that changes code or configuration publishes a version (``publish = true``) and
moves the ``live`` alias to it. Terraform has no traffic shifting of its own, so a canary is two
applies: ``-var stable_version=N`` keeps version N live and sends ``canary_weight`` of the
traffic to the new one; a plain apply then promotes it (see README.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from slpack.alarms import alarm_properties
from slpack.deployment import ALIAS, HANDLER, Deployment
from slpack.render import hcl
from slpack.render.cloudformation import ACCESS_LOG_FORMAT
from slpack.render.dashboard import ACCOUNT_MARK, PARTITION_MARK, REGION_MARK, dashboard_json
from slpack.render.hcl import Expr
from slpack.render.suppressions import (
    Skip,
    function_skips,
    log_group_skips,
    model_bucket_skips,
    skips,
)
from slpack.render.templating import write

PARTITION = Expr("data.aws_partition.current.partition")
REGION = Expr("data.aws_region.current.region")
ACCOUNT = Expr("data.aws_caller_identity.current.account_id")
MODEL_BUCKET = Expr("aws_s3_bucket.model.bucket")


def render(d: Deployment, out_dir: Path) -> list[Path]:
    o = d.options
    context: dict[str, Any] = {
        "d": d,
        "o": o,
        "alias": ALIAS,
        "handler": HANDLER,
        "function_zip": f"${{path.module}}/{d.relative(d.function_zip, out_dir)}",
        "layer_zip": f"${{path.module}}/{d.relative(d.layer.path, out_dir)}"
        if d.layer and d.layer.path
        else None,
        "model_file": f"${{path.module}}/{d.relative(d.model_file, out_dir)}",
        "environment": _environment(d),
        "policy": _policy(d),
        "cors": _cors(d),
        "alarms": _alarms(d),
        "alarm_actions": _alarm_actions(d),
        "dashboard": _dashboard(d),
        "canary_weight": _canary_weight(o.deployment),
        "skips": _skips(d),
        "access_log_format": ACCESS_LOG_FORMAT,
    }
    context["signed"] = _signed(d, context["function_zip"], context["layer_zip"])
    context["function_attributes"] = _function_attributes(d, context["function_zip"])
    files = ["main.tf", "variables.tf", "function.tf", "monitoring.tf", "outputs.tf", "README.md"]
    if o.endpoint != "none":
        files.insert(3, "endpoint.tf")
    if o.uses_s3_model:
        files.insert(3, "model.tf")
    return [write(f"terraform/{name}.j2", out_dir / name, **context) for name in files]


def _model_bucket(d: Deployment) -> str:
    return d.options.model_bucket or MODEL_BUCKET


def _environment(d: Deployment) -> dict[str, Any]:
    env: dict[str, Any] = dict(d.environment())
    if d.options.uses_s3_model:
        env["SLPACK_MODEL_URI"] = hcl.template("s3://", _model_bucket(d), "/", d.model_key)
    return env


def _policy(d: Deployment) -> dict[str, Any]:
    """The function role's inline policy: its own log group, its own model object."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": hcl.template(Expr("aws_cloudwatch_log_group.function.arn"), ":*"),
        }
    ]
    if d.options.uses_s3_model:
        statements.append(
            {
                "Sid": "ReadModel",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": hcl.template(
                    "arn:", PARTITION, ":s3:::", _model_bucket(d), "/", d.model_key
                ),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _cors(d: Deployment) -> dict[str, Any] | None:
    cors = d.cors()
    return {_snake(k): v for k, v in cors.items()} if cors else None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def _alarms(d: Deployment) -> list[dict[str, Any]]:
    """Each alarm as Terraform attributes and ``metric_query`` blocks, from the shared
    definition."""
    out = []
    for spec in d.alarms():
        props = alarm_properties(spec, d.alarm_target())
        queries = props.pop("Metrics", [])
        attributes: dict[str, Any] = {}
        for key, val in props.items():
            attributes[_snake(key)] = (
                {x["Name"]: x["Value"] for x in val} if key == "Dimensions" else val
            )
        attributes.update(
            alarm_actions=Expr("local.alarm_actions"), ok_actions=Expr("local.alarm_actions")
        )
        blocks = []
        for q in queries:
            block: dict[str, Any] = {"fields": {"id": q["Id"], "return_data": q["ReturnData"]}}
            if "Expression" in q:
                block["fields"].update(expression=q["Expression"], label=q["Label"])
            else:
                stat = q["MetricStat"]
                block["metric"] = {
                    "namespace": stat["Metric"]["Namespace"],
                    "metric_name": stat["Metric"]["MetricName"],
                    "dimensions": {x["Name"]: x["Value"] for x in stat["Metric"]["Dimensions"]},
                    "period": stat["Period"],
                    "stat": stat["Stat"],
                }
            blocks.append(block)
        out.append(
            {"name": spec.key.replace("-", "_"), "attributes": attributes, "queries": blocks}
        )
    return out


def _alarm_actions(d: Deployment) -> list[Any]:
    if d.options.creates_topic:
        return [Expr("aws_sns_topic.alarms.arn")]
    return [d.options.alarm_topic_arn] if d.options.alarm_topic_arn else []


def _dashboard(d: Deployment) -> str:
    """The dashboard JSON for a heredoc: HCL template syntax escaped, then the marks
    interpolated."""
    text = dashboard_json(d, indent=2).replace("${", "$${").replace("%{", "%%{")
    for mark, expr in ((PARTITION_MARK, PARTITION), (REGION_MARK, REGION), (ACCOUNT_MARK, ACCOUNT)):
        text = text.replace(mark, "${" + expr + "}")
    return text


def _function_attributes(d: Deployment, function_zip: str) -> dict[str, Any]:
    """The function's one-line attributes: its code (the signed copy when code signing is on,
    else function.zip), runtime, size, role and layer (none on the python runtime)."""
    o = d.options
    if o.signing_profile:
        signed = "aws_signer_signing_job.function.signed_object[0].s3[0]"
        code = {"s3_bucket": Expr(f"{signed}.bucket"), "s3_key": Expr(f"{signed}.key")}
    else:
        code = {
            "filename": Expr(f'"{function_zip}"'),
            "source_code_hash": Expr(f'filebase64sha256("{function_zip}")'),
        }
    attributes: dict[str, Any] = {
        "function_name": Expr("local.function_name"),
        "description": f"slpack {d.name} {d.version}",
        **code,
        "handler": HANDLER,
        "runtime": d.runtime,
        "architectures": [d.arch],
        "memory_size": o.memory_mb,
        "timeout": o.timeout_s,
        "role": Expr("aws_iam_role.function.arn"),
        "publish": True,
    }
    if d.needs_layer:
        if d.layer is None:
            attributes["layers"] = [Expr("var.layer_arn")]
        else:
            attributes["layers"] = [
                d.layer.arn or Expr("aws_lambda_layer_version.dependencies.arn")
            ]
    return attributes


def _signed(d: Deployment, function_zip: str, layer_zip: str | None) -> list[dict[str, str]]:
    """The zips AWS Signer signs when code signing is on: function.zip, and a layer zip the
    template publishes (a layer given as an ARN must be signed already)."""
    if not d.options.signing_profile:
        return []
    signed = [{"name": "function", "path": function_zip, "file": "function.zip"}]
    if layer_zip and d.layer is not None and d.layer.path is not None:
        signed.append({"name": "layer", "path": layer_zip, "file": d.layer.path.name})
    return signed


def _canary_weight(deployment: str) -> float:
    """The share a two-step canary gives the new version: the 10 of Canary10Percent..., else 0.1."""
    found = re.search(r"(\d+)Percent", deployment)
    return int(found.group(1)) / 100 if found else 0.1


def _skips(d: Deployment) -> dict[str, tuple[Skip, ...]]:
    """The checkov findings each resource accepts, by resource."""
    o = d.options
    return {
        "function": function_skips(o.reserved_concurrency, signed=o.signing_profile is not None),
        "log_group": log_group_skips(o.log_retention_days),
        "url": skips("CKV_AWS_258") if o.public else (),
        "url_permission": skips("CKV_AWS_301") if o.public else (),
        "route": skips("CKV_AWS_309") if o.public else (),
        "bucket": model_bucket_skips(),
        "topic": skips("CKV_AWS_26"),
    }
