"""Rendered templates against the real validators: cfn-lint, checkov, python-hcl2, the Serverless
layout.

A handful of option sets cover every branch of the templates; checkov is slow, so it runs once
per framework over all of them (session-scoped) and its report must account for every resource.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import write_drift_baseline, write_render_bundle, write_render_layer
from test_render import of_type, tf_resources, tf_value

from slpack.alarms import AlarmThresholds, alarm_specs
from slpack.render import RenderOptions, RenderWarning, render

SIGNING_PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/slpack_prod/a1B2c3D4e5"
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"layer": "<layer>"},
    "full": {
        "layer": "<layer>",
        "public": True,
        "cors_origins": ("https://app.example.com",),
        "model_s3": True,
        "provisioned_concurrency": 2,
        "reserved_concurrency": 10,
        "alarm_emails": ("ops@example.com",),
        "deployment": "Linear10PercentEvery1Minute",
        "log_retention_days": 30,
        "cache_size": 128,
    },
    "api": {
        "layer": "arn:aws:lambda:eu-west-1:123456789012:layer:ort:3",
        "endpoint": "http-api",
        "model_bucket": "acme-models",
        "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops",
        "cors_origins": ("*",),
        "tracing": False,
    },
    "api_public": {"endpoint": "http-api", "public": True, "alarm_topic": True},
    # the python runtime: no layer anywhere (no parameter, no resource, no reference)
    "python": {"runtime": "python", "model_s3": True, "public": True},
    # code signing: a code signing configuration instead of the CKV_AWS_272 skip (no serverless)
    "signed": {"layer": "<layer>", "signing_profile": SIGNING_PROFILE},
    "drift": {"layer": "<layer>"},  # a bundle with a drift baseline: its widgets and alarm
    "bare": {
        "endpoint": "none",
        "arch": "arm64",
        "snapstart": True,
        "thresholds": AlarmThresholds(latency_p99_ms=None, unknown_category_pct=None),
    },
}


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("render-variants")
    out = {}
    for name, options in VARIANTS.items():
        options = dict(options)
        bundle = write_render_bundle(root / name, runtime=options.pop("runtime", "onnxruntime"))
        if name == "drift":
            write_drift_baseline(bundle)
        if options.get("layer") == "<layer>":
            options = {**options, "layer": str(write_render_layer(root / name))}
        targets = ["sam", "terraform"] + ([] if options.get("signing_profile") else ["serverless"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RenderWarning)
            render(bundle, targets, RenderOptions(**options))
        out[name] = bundle
    return out


def _checkov(root: Path, framework: str) -> dict[str, Any]:
    """One checkov run over every variant; offline (any proxy use would hit a closed local port)."""
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    checkov = Path(sys.executable).with_name("checkov")
    proc = subprocess.run(
        [
            str(checkov),
            "-d",
            str(root),
            "--framework",
            framework,
            "--quiet",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    (report,) = report if isinstance(report, list) else [report]
    return report


@pytest.fixture(scope="session")
def checkov_reports(variants: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Per framework; folders are scanned one target at a time so a framework sees only its
    files."""
    reports = {}
    for target, framework in (
        ("sam", "cloudformation"),
        ("serverless", "serverless"),
        ("terraform", "terraform"),
    ):
        root = next(iter(variants.values())).parents[3] / f"scan-{target}"
        for name, bundle in variants.items():
            if (bundle / "deploy" / target).is_dir():  # checkov does not follow symlinks
                shutil.copytree(bundle / "deploy" / target, root / name)
        reports[target] = _checkov(root, framework)
    return reports


def _resource_count(variants: dict[str, Path], target: str) -> int:
    total = 0
    for bundle in variants.values():
        if not (bundle / "deploy" / target).is_dir():
            continue
        if target == "sam":
            total += len(
                yaml.safe_load((bundle / "deploy/sam/template.yaml").read_text())["Resources"]
            )
        elif target == "serverless":
            total += len(
                yaml.safe_load((bundle / "deploy/serverless/serverless.yml").read_text())[
                    "resources"
                ]["Resources"]
            )
        else:
            total += len(tf_resources(bundle / "deploy/terraform"))
    return total


@pytest.mark.slow
@pytest.mark.parametrize("target", ["sam", "serverless", "terraform"])
def test_checkov_passes_with_only_justified_suppressions(
    checkov_reports: dict[str, dict[str, Any]], variants: dict[str, Path], target: str
) -> None:
    report = checkov_reports[target]
    assert "summary" in report, f"checkov found nothing to check: {report}"
    summary = report["summary"]
    failed = [
        (c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]
    ]
    assert not failed, failed
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == _resource_count(variants, target), (
        "checkov did not see every resource"
    )
    assert (
        summary["passed"] > 0 and summary["skipped"] > 0
    )  # suppressions are recognised, not ignored
    for bundle in variants.values():
        for path in (bundle / "deploy" / target).glob("*"):
            for line in path.read_text().splitlines():
                if "checkov:skip=" in line:
                    check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                    assert check.startswith("CKV") and len(reason.strip()) > 20, line


@pytest.mark.slow
def test_cfn_lint_has_no_errors_on_sam_and_on_the_serverless_resources(
    variants: dict[str, Path], tmp_path: Path
) -> None:
    from cfnlint.api import ManualArgs, lint_file

    def errors(path: Path) -> list[str]:
        return [
            str(m)
            for m in lint_file(path, ManualArgs(regions=["us-east-1"]))
            if m.rule.severity == "error"
        ]

    for name, bundle in variants.items():
        assert errors(bundle / "deploy/sam/template.yaml") == [], name
        if not (bundle / "deploy/serverless").is_dir():
            continue
        stack = tmp_path / f"{name}-serverless-stack.json"
        stack.write_text(
            json.dumps(
                _serverless_stack(
                    yaml.safe_load((bundle / "deploy/serverless/serverless.yml").read_text())
                )
            )
        )
        assert errors(stack) == [], name


def _serverless_stack(sls: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation the framework would produce, with its generated resources stood in."""
    fn = sls["functions"]["predict"]
    resources = dict(sls["resources"]["Resources"])
    layers = [
        layer if isinstance(layer, dict) else "arn:aws:lambda:us-east-1:123456789012:layer:ort:1"
        for layer in fn.get("layers", [])
    ]
    resources["PredictLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": f"/aws/lambda/{fn['name']}",
            "RetentionInDays": sls["provider"]["logRetentionInDays"],
        },
    }
    resources["PredictLambdaFunction"] = {
        "Type": "AWS::Lambda::Function",
        "DependsOn": ["PredictLogGroup"],
        "Properties": {
            "FunctionName": fn["name"],
            "Handler": fn["handler"],
            "Runtime": sls["provider"]["runtime"],
            "Architectures": [sls["provider"]["architecture"]],
            "Role": {"Fn::GetAtt": [fn["role"], "Arn"]},
            "Code": {"S3Bucket": "deployment-bucket", "S3Key": "function.zip"},
            "Layers": layers,
            "Environment": {"Variables": fn["environment"]},
        },
    }
    if "layers" in sls:
        resources["DependenciesLambdaLayer"] = {
            "Type": "AWS::Lambda::LayerVersion",
            "Properties": {"Content": {"S3Bucket": "deployment-bucket", "S3Key": "layer.zip"}},
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": resources,
        "Outputs": sls["resources"]["Outputs"],
    }


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """The validator is live: a wrong property type is an error."""
    from cfnlint.api import ManualArgs, lint_file

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "Resources:\n  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      "
        "RetentionInDays: forever\n"
    )
    assert any(
        m.rule.severity == "error" for m in lint_file(bad, ManualArgs(regions=["us-east-1"]))
    )


def test_terraform_parses_with_the_expected_resources(variants: dict[str, Path]) -> None:
    alarms = {("aws_cloudwatch_metric_alarm", s.key.replace("-", "_")) for s in alarm_specs()}
    core = {
        ("aws_lambda_function", "this"),
        ("aws_lambda_alias", "live"),
        ("aws_cloudwatch_log_group", "function"),
        ("aws_iam_role", "function"),
        ("aws_iam_role_policy", "function"),
        ("aws_cloudwatch_dashboard", "this"),
    }
    found = {
        name: set(tf_resources(bundle / "deploy/terraform")) for name, bundle in variants.items()
    }
    for name, resources in found.items():
        assert core <= resources, name
    assert (
        alarms <= found["default"]
        and ("aws_cloudwatch_metric_alarm", "latency_p99") not in found["bare"]
    )
    assert {
        ("aws_lambda_layer_version", "dependencies"),
        ("aws_lambda_function_url", "live"),
    } <= found["default"]
    assert {
        ("aws_s3_bucket", "model"),
        ("aws_s3_object", "model"),
        ("aws_sns_topic", "alarms"),
        ("aws_lambda_provisioned_concurrency_config", "live"),
        ("aws_lambda_permission", "url_invoke"),
    } <= found["full"]
    assert {("aws_apigatewayv2_api", "http"), ("aws_apigatewayv2_stage", "default")} <= found["api"]
    assert ("aws_s3_bucket", "model") not in found["api"] and ("aws_s3_object", "model") in found[
        "api"
    ]
    assert not any(
        t.startswith(("aws_lambda_function_url", "aws_apigatewayv2")) for t, _ in found["bare"]
    )
    alias = tf_resources(variants["default"] / "deploy/terraform")[("aws_lambda_alias", "live")]
    assert "var.stable_version" in tf_value(alias["function_version"])


def test_serverless_yml_has_the_expected_functions_layers_and_resources(
    variants: dict[str, Path],
) -> None:
    sls = yaml.safe_load((variants["full"] / "deploy/serverless/serverless.yml").read_text())
    assert set(sls["functions"]) == {"predict"}
    fn = sls["functions"]["predict"]
    assert (
        fn["handler"] == "slpack_handler.handler"
        and fn["role"] == "FunctionRole"
        and fn["layers"] == [{"Ref": "DependenciesLambdaLayer"}]
    )
    assert set(sls["layers"]) == {"dependencies"} and sls["layers"]["dependencies"][
        "compatibleArchitectures"
    ] == ["arm64"]
    assert sls["provider"]["versionFunctions"] is False and "plugins" not in sls
    resources = sls["resources"]["Resources"]
    for rtype in (
        "AWS::IAM::Role",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Lambda::Url",
        "AWS::CodeDeploy::DeploymentGroup",
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    ):
        assert of_type(sls["resources"], rtype), rtype
    assert resources["FunctionUrl"]["Properties"]["Qualifier"] == "live"
    assert set(sls["resources"]["Outputs"]) == {
        "EndpointUrl",
        "FunctionArn",
        "AliasArn",
        "DashboardUrl",
        "ModelUri",
    }
    assert "${" not in json.dumps(resources).replace(
        "${param:", ""
    )  # serverless would read ${...} as its variables


@pytest.mark.skipif(shutil.which("terraform") is None, reason="the terraform CLI is not installed")
def test_terraform_fmt_leaves_every_variant_unchanged(variants: dict[str, Path]) -> None:
    """The rendered HCL is already in terraform fmt's layout (alignment runs, lists of objects)."""
    for name, bundle in variants.items():
        check = subprocess.run(
            ["terraform", "fmt", "-check", "-diff", "-recursive", str(bundle / "deploy/terraform")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, f"{name}:\n{check.stdout}{check.stderr}"


def test_code_signing_replaces_the_suppression(variants: dict[str, Path]) -> None:
    """--signing-profile: a code signing configuration on the function (and the signing steps),
    and no CKV_AWS_272 skip; without it, the skip and its reason."""
    sam = yaml.safe_load((variants["signed"] / "deploy/sam/template.yaml").read_text())
    (config,) = of_type(sam, "AWS::Lambda::CodeSigningConfig").values()
    assert config["Properties"]["AllowedPublishers"]["SigningProfileVersionArns"] == [
        SIGNING_PROFILE
    ]
    assert config["Properties"]["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == "Enforce"
    assert "CodeSigningConfigArn" in sam["Resources"]["Function"]["Properties"]
    samconfig = (variants["signed"] / "deploy/sam/samconfig.toml").read_text()
    assert 'signing_profiles = "Function=slpack_prod DependencyLayer=slpack_prod"' in samconfig
    tf = tf_resources(variants["signed"] / "deploy/terraform")
    function = tf[("aws_lambda_function", "this")]
    assert "aws_lambda_code_signing_config.this.arn" in tf_value(
        function["code_signing_config_arn"]
    )
    assert "aws_signer_signing_job.function" in tf_value(function["s3_key"])
    assert "filename" not in function
    layer = tf[("aws_lambda_layer_version", "dependencies")]
    assert "aws_signer_signing_job.layer" in tf_value(layer["s3_key"])
    assert {("aws_signer_signing_job", "function"), ("aws_s3_object", "function")} <= set(tf)
    for target in ("sam", "terraform"):
        signed = "\n".join(
            p.read_text() for p in (variants["signed"] / "deploy" / target).glob("*")
        )
        unsigned = "\n".join(
            p.read_text() for p in (variants["default"] / "deploy" / target).glob("*")
        )
        assert "CKV_AWS_272" not in signed and "CKV_AWS_272" in unsigned
    assert "code_bucket" in (variants["signed"] / "deploy/terraform/variables.tf").read_text()


def test_serverless_refuses_code_signing(tmp_path: Path) -> None:
    from slpack.errors import SlpackError

    bundle = write_render_bundle(tmp_path, runtime="python")
    with pytest.raises(SlpackError, match=r"uploads function\.zip unsigned"):
        render(bundle, ["serverless"], RenderOptions(signing_profile=SIGNING_PROFILE))
    with pytest.raises(SlpackError, match="signing profile version ARN"):
        render(bundle, ["sam"], RenderOptions(signing_profile="slpack_prod"))
