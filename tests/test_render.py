"""slpack.render: options rendered into SAM, Serverless and Terraform, inspected in the output."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from slpack.alarms import AlarmThresholds, alarm_specs
from slpack.errors import SlpackError
from slpack.render import RenderOptions, RenderWarning, render

ALL = ["sam", "serverless", "terraform"]


# --- reading the output -------------------------------------------------------------------

_PROBE = hcl2.loads('a = "x"\n')[
    "a"
]  # python-hcl2 and checkov's fork wrap/quote values differently


def tf_value(value: Any) -> Any:
    """An attribute value from hcl2, whichever hcl2 parsed it."""
    if _PROBE == ["x"] or _PROBE == ['"x"']:
        value = value[0]
    if isinstance(value, str) and len(value) > 1 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def tf_resources(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in hcl2.loads(path.read_text()).get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    out[(rtype, name.strip('"'))] = body
    return out


def sam_template(bundle: Path) -> dict[str, Any]:
    return yaml.safe_load((bundle / "deploy/sam/template.yaml").read_text())


def sls_config(bundle: Path) -> dict[str, Any]:
    return yaml.safe_load((bundle / "deploy/serverless/serverless.yml").read_text())


def of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def rendered(bundle: Path, **options: Any) -> Path:
    """Render every target; warnings are the business of the tests about them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RenderWarning)
        render(bundle, ALL, RenderOptions(**options))
    return bundle


def iam_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        st
        for role in of_type(template, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for st in policy["PolicyDocument"]["Statement"]
    ]


# --- defaults -----------------------------------------------------------------------------


def test_defaults_are_private_alarmed_and_rolled_out_by_canary(
    render_bundle: Path, render_layer: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RenderWarning)  # nothing to warn about
        render(render_bundle, ALL, RenderOptions(layer=str(render_layer)))
    sam = sam_template(render_bundle)
    fn = sam["Resources"]["Function"]["Properties"]
    assert fn["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    assert fn["AutoPublishAlias"] == "live" and fn["MemorySize"] == 1024
    assert fn["DeploymentPreference"]["Type"] == "Canary10Percent5Minutes"
    rollback = {a["Ref"] for a in fn["DeploymentPreference"]["Alarms"]}
    assert rollback == {s.logical_id for s in alarm_specs() if s.rollback}
    assert {
        r["Properties"]["AlarmName"] for r in of_type(sam, "AWS::CloudWatch::Alarm").values()
    } == {f"iris-{s.key}" for s in alarm_specs()}
    assert sam["Resources"]["LogGroup"]["Properties"]["RetentionInDays"] == 365
    assert fn["LoggingConfig"]["LogGroup"] == {"Ref": "LogGroup"} and fn["Tracing"] == "Active"
    assert fn["Environment"]["Variables"]["SLPACK_EAGER"] == "0"
    assert set(sam["Outputs"]) == {"EndpointUrl", "FunctionArn", "AliasArn", "DashboardUrl"}
    assert "*" not in json.dumps(
        [r.get("Properties", {}).get("Principal") for r in sam["Resources"].values()]
    )

    sls = sls_config(render_bundle)
    assert sls["resources"]["Resources"]["FunctionUrl"]["Properties"]["AuthType"] == "AWS_IAM"
    group = sls["resources"]["Resources"]["CodeDeployDeploymentGroup"]["Properties"]
    assert group["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == rollback

    tf = tf_resources(render_bundle / "deploy/terraform")
    assert tf_value(tf[("aws_lambda_function_url", "live")]["authorization_type"]) == "AWS_IAM"
    assert not any(t == "aws_lambda_permission" for t, _ in tf)
    assert {
        tf_value(b["alarm_name"]) for (t, _), b in tf.items() if t == "aws_cloudwatch_metric_alarm"
    } == {f"iris-{s.key}" for s in alarm_specs()}


def test_relative_paths_reach_the_bundle_and_the_layer_from_each_target(
    render_bundle: Path, render_layer: Path
) -> None:
    """Each tool resolves these relative to the rendered file's folder: they must land on the real
    files, all inside the bundle (the layer is linked into BUNDLE/layer/ with its lock)."""
    rendered(render_bundle, layer=str(render_layer))
    deploy = render_bundle / "deploy"
    inside = render_bundle / "layer" / render_layer.name
    assert inside.read_bytes() == render_layer.read_bytes()
    assert (render_bundle / "layer" / f"{render_layer.stem}.lock.json").is_file()

    def lands(folder: Path, rel: str) -> Path:
        return Path(os.path.normpath(folder / rel.replace("${path.module}/", "")))

    sam = sam_template(render_bundle)["Resources"]
    assert (
        lands(deploy / "sam", sam["Function"]["Properties"]["CodeUri"])
        == render_bundle / "function.zip"
    )
    assert lands(deploy / "sam", sam["DependencyLayer"]["Properties"]["ContentUri"]) == inside
    sls = sls_config(render_bundle)
    assert (
        lands(deploy / "serverless", sls["functions"]["predict"]["package"]["artifact"])
        == render_bundle / "function.zip"
    )
    assert (
        lands(deploy / "serverless", sls["layers"]["dependencies"]["package"]["artifact"]) == inside
    )
    tf = tf_resources(deploy / "terraform")
    assert (
        lands(deploy / "terraform", tf_value(tf[("aws_lambda_function", "this")]["filename"]))
        == render_bundle / "function.zip"
    )
    assert (
        lands(
            deploy / "terraform",
            tf_value(tf[("aws_lambda_layer_version", "dependencies")]["filename"]),
        )
        == inside
    )


def test_runtime_and_architecture_follow_the_layer(render_bundle: Path, render_layer: Path) -> None:
    rendered(render_bundle, layer=str(render_layer))  # ort-...-py312-arm64.zip
    fn = sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    assert (fn["Runtime"], fn["Architectures"]) == ("python3.12", ["arm64"])
    layer = sam_template(render_bundle)["Resources"]["DependencyLayer"]["Properties"]
    assert layer["CompatibleArchitectures"] == ["arm64"] and layer["CompatibleRuntimes"] == [
        "python3.12"
    ]
    assert sls_config(render_bundle)["provider"]["architecture"] == "arm64"
    tf = tf_resources(render_bundle / "deploy/terraform")[("aws_lambda_function", "this")]
    assert tf_value(tf["architectures"]) == ["arm64"] and tf_value(tf["runtime"]) == "python3.12"
    with pytest.raises(SlpackError, match="does not match the layer"):
        render(render_bundle, ["sam"], RenderOptions(layer=str(render_layer), arch="x86_64"))


def test_the_layer_lock_says_which_python_and_arch(render_bundle: Path, tmp_path: Path) -> None:
    layer = tmp_path / "custom-layer.zip"
    layer.write_bytes(render_bundle.joinpath("function.zip").read_bytes())
    layer.with_suffix(".lock.json").write_text(json.dumps({"python": "3.11.9", "arch": "arm64"}))
    rendered(render_bundle, layer=str(layer))
    fn = sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    assert (fn["Runtime"], fn["Architectures"]) == ("python3.11", ["arm64"])


def test_arm64_without_a_layer_takes_the_layer_arn_at_deploy_time(render_bundle: Path) -> None:
    with pytest.warns(RenderWarning, match="no layer given"):
        render(render_bundle, ALL, RenderOptions(arch="arm64", python="3.13"))
    sam = sam_template(render_bundle)
    assert sam["Parameters"]["LayerArn"]["Type"] == "String"
    assert sam["Resources"]["Function"]["Properties"]["Layers"] == [{"Ref": "LayerArn"}]
    assert sam["Resources"]["Function"]["Properties"]["Runtime"] == "python3.13"
    assert sls_config(render_bundle)["functions"]["predict"]["layers"] == ["${param:layerArn}"]
    assert 'variable "layer_arn"' in (render_bundle / "deploy/terraform/variables.tf").read_text()


def test_an_existing_layer_arn_is_used_as_is(render_bundle: Path) -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:ort:7"
    rendered(render_bundle, layer=arn)
    assert sam_template(render_bundle)["Resources"]["Function"]["Properties"]["Layers"] == [arn]
    assert "layers" not in sls_config(render_bundle)
    assert sls_config(render_bundle)["functions"]["predict"]["layers"] == [arn]
    with pytest.raises(SlpackError, match="not a Lambda layer version ARN"):
        render(render_bundle, ["sam"], RenderOptions(layer="arn:aws:lambda:eu-west-1:1:layer"))


# --- options ------------------------------------------------------------------------------


def test_public_url_is_warned_and_granted_both_url_permissions(render_bundle: Path) -> None:
    with pytest.warns(RenderWarning, match="public"):
        render(
            render_bundle,
            ALL,
            RenderOptions(public=True, layer="arn:aws:lambda:eu-west-1:123456789012:layer:ort:7"),
        )
    sam = sam_template(render_bundle)
    assert sam["Resources"]["Function"]["Properties"]["FunctionUrlConfig"]["AuthType"] == "NONE"
    extra = sam["Resources"]["FunctionUrlInvokePermission"]["Properties"]
    assert extra["Action"] == "lambda:InvokeFunction" and extra["InvokedViaFunctionUrl"] is True
    sls = of_type(sls_config(render_bundle)["resources"], "AWS::Lambda::Permission")
    assert {p["Properties"]["Action"] for p in sls.values()} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    tf = tf_resources(render_bundle / "deploy/terraform")
    assert tf_value(tf[("aws_lambda_function_url", "live")]["authorization_type"]) == "NONE"
    assert tf_value(tf[("aws_lambda_permission", "url_invoke")]["invoked_via_function_url"]) is True


def test_http_api_is_iam_authenticated_logged_and_routed_to_the_alias(render_bundle: Path) -> None:
    rendered(render_bundle, endpoint="http-api", cors_origins=("https://app.example.com",))
    for resources in (
        sam_template(render_bundle)["Resources"],
        sls_config(render_bundle)["resources"]["Resources"],
    ):
        assert resources["HttpApiRoute"]["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert resources["HttpApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"] == [
            "https://app.example.com"
        ]
        assert "AccessLogSettings" in resources["HttpApiStage"]["Properties"]
    assert sam_template(render_bundle)["Resources"]["HttpApiIntegration"]["Properties"][
        "IntegrationUri"
    ] == {"Ref": "Function.Alias"}
    tf = tf_resources(render_bundle / "deploy/terraform")
    assert tf_value(tf[("aws_apigatewayv2_route", "default")]["authorization_type"]) == "AWS_IAM"
    assert "aws_lambda_alias.live.arn" in tf_value(
        tf[("aws_apigatewayv2_integration", "live")]["integration_uri"]
    )
    with pytest.raises(SlpackError, match="HTTP API"):
        render(render_bundle, ["sam"], RenderOptions(endpoint="http-api", timeout_s=60))


def test_s3_model_grants_get_object_on_that_one_key(render_bundle: Path) -> None:
    rendered(render_bundle, model_s3=True)
    sam = sam_template(render_bundle)
    env = sam["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert env["SLPACK_MODEL_URI"] == {
        "Fn::Join": ["", ["s3://", {"Ref": "ModelBucket"}, "/iris/1a2b3c4d5e6f/model.onnx"]]
    }
    bucket = sam["Resources"]["ModelBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    (read,) = [s for s in iam_statements(sam) if s["Sid"] == "ReadModel"]
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"]["Fn::Join"][1][-2:] == [
        {"Ref": "ModelBucket"},
        "/iris/1a2b3c4d5e6f/model.onnx",
    ]
    tf = tf_resources(render_bundle / "deploy/terraform")
    assert tf_value(tf[("aws_s3_object", "model")]["key"]) == "iris/1a2b3c4d5e6f/model.onnx"
    assert "SLPACK_MODEL_URI" in sls_config(render_bundle)["functions"]["predict"]["environment"]


def test_existing_model_bucket_is_referenced_not_created(render_bundle: Path) -> None:
    rendered(render_bundle, model_bucket="acme-models", model_key="iris/v1/model.onnx")
    sam = sam_template(render_bundle)
    assert "ModelBucket" not in sam["Resources"]
    (read,) = [s for s in iam_statements(sam) if s["Sid"] == "ReadModel"]
    assert read["Resource"]["Fn::Join"][1][-1] == ":s3:::acme-models/iris/v1/model.onnx"
    tf = tf_resources(render_bundle / "deploy/terraform")
    assert ("aws_s3_bucket", "model") not in tf and tf_value(
        tf[("aws_s3_object", "model")]["bucket"]
    ) == "acme-models"


def test_iam_is_least_privilege(render_bundle: Path) -> None:
    """No wildcard action, no wildcard resource: the role writes its log group and reads its
    model."""
    rendered(render_bundle, model_s3=True, endpoint="http-api")
    for template in (sam_template(render_bundle), sls_config(render_bundle)["resources"]):
        statements = iam_statements(template)
        assert statements
        for st in statements:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert all("*" not in a for a in actions) and st["Resource"] != "*", st
    policy = (render_bundle / "deploy/terraform/function.tf").read_text()
    assert '"*"' not in policy and '"s3:*"' not in policy


@pytest.mark.parametrize(
    "deployment", ["Linear10PercentEvery1Minute", "Canary10Percent30Minutes", "AllAtOnce"]
)
def test_deployment_type_is_selectable(render_bundle: Path, deployment: str) -> None:
    rendered(render_bundle, deployment=deployment)
    assert (
        sam_template(render_bundle)["Resources"]["Function"]["Properties"]["DeploymentPreference"][
            "Type"
        ]
        == deployment
    )
    group = sls_config(render_bundle)["resources"]["Resources"]["CodeDeployDeploymentGroup"][
        "Properties"
    ]
    assert group["DeploymentConfigName"] == f"CodeDeployDefault.Lambda{deployment}"
    with pytest.raises(SlpackError, match="--deployment"):
        render(render_bundle, ["sam"], RenderOptions(deployment="Canary50Percent1Minute"))


def test_provisioned_concurrency_loads_eagerly(render_bundle: Path) -> None:
    rendered(render_bundle, provisioned_concurrency=3, reserved_concurrency=10)
    fn = sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    assert fn["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 3}
    assert (
        fn["ReservedConcurrentExecutions"] == 10
        and fn["Environment"]["Variables"]["SLPACK_EAGER"] == "1"
    )
    sls = sls_config(render_bundle)
    alias = sls["resources"]["Resources"]["LiveAlias"]["Properties"]
    assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 3}
    assert sls["functions"]["predict"]["environment"]["SLPACK_EAGER"] == "1"
    tf = tf_resources(render_bundle / "deploy/terraform")
    assert (
        tf_value(
            tf[("aws_lambda_provisioned_concurrency_config", "live")][
                "provisioned_concurrent_executions"
            ]
        )
        == 3
    )
    with pytest.raises(SlpackError, match="cannot exceed"):
        render(
            render_bundle, ["sam"], RenderOptions(provisioned_concurrency=5, reserved_concurrency=2)
        )


def test_thresholds_topic_and_handler_environment(render_bundle: Path) -> None:
    thresholds = AlarmThresholds(latency_p99_ms=250, missing_value_pct=None)
    rendered(
        render_bundle,
        thresholds=thresholds,
        alarm_emails=("ops@example.com",),
        cache_size=256,
        max_batch=64,
        metrics_namespace="acme",
    )
    sam = sam_template(render_bundle)
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in of_type(sam, "AWS::CloudWatch::Alarm").values()
    }
    assert (
        alarms["iris-latency-p99"]["Threshold"] == 250 and "iris-drift-missing-value" not in alarms
    )
    assert (
        alarms["iris-errors"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        and alarms["iris-errors"]["Namespace"] == "acme"
    )
    assert (
        of_type(sam, "AWS::SNS::Subscription")["AlarmEmail1"]["Properties"]["Endpoint"]
        == "ops@example.com"
    )
    env = sam["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert (
        env["SLPACK_CACHE_SIZE"] == "256"
        and env["SLPACK_MAX_BATCH"] == "64"
        and env["SLPACK_METRICS_NAMESPACE"] == "acme"
    )
    tf = (render_bundle / "deploy/terraform/monitoring.tf").read_text()
    assert 'resource "aws_sns_topic" "alarms"' in tf and "drift_missing_value" not in tf


def test_dashboard_has_latency_cold_start_model_load_error_and_drift_panels(
    render_bundle: Path,
) -> None:
    rendered(render_bundle)
    join = sam_template(render_bundle)["Resources"]["Dashboard"]["Properties"]["DashboardBody"][
        "Fn::Join"
    ][1]
    body = json.loads("".join(p if isinstance(p, str) else "X" for p in join))
    metrics = json.dumps([w["properties"].get("metrics") for w in body["widgets"]])
    for needed in (
        '"p50"',
        '"p90"',
        '"p99"',
        "ColdStart",
        "ModelLoadMs",
        "Errors",
        "Throttles",
        "UnknownCategory",
        "OutOfRange",
        "MissingValue",
    ):
        assert needed in metrics
    assert body["widgets"][0]["type"] == "alarm" and len(
        body["widgets"][0]["properties"]["alarms"]
    ) == len(alarm_specs())
    tf_body = (
        (render_bundle / "deploy/terraform/monitoring.tf")
        .read_text()
        .split("<<-EOT")[1]
        .split("EOT")[0]
    )
    json.loads(tf_body.replace("${data.aws_region.current.region}", "X").replace("$${", "${"))


# --- rendering as a whole -----------------------------------------------------------------


def test_rendering_is_reproducible_and_replaces_stale_files(render_bundle: Path) -> None:
    rendered(render_bundle)
    first = {p: p.read_bytes() for p in (render_bundle / "deploy").rglob("*") if p.is_file()}
    (render_bundle / "deploy/terraform/stale.tf").write_text("# left over\n")
    rendered(render_bundle)
    again = {p: p.read_bytes() for p in (render_bundle / "deploy").rglob("*") if p.is_file()}
    assert again == first


def test_serverless_publishes_a_new_version_exactly_when_something_changes(
    render_bundle: Path,
) -> None:
    def version_ids() -> set[str]:
        return set(of_type(sls_config(render_bundle)["resources"], "AWS::Lambda::Version"))

    rendered(render_bundle)
    first = version_ids()
    rendered(render_bundle)
    assert version_ids() == first
    rendered(render_bundle, memory_mb=2048)
    assert len(version_ids()) == 1 and version_ids() != first
    alias = sls_config(render_bundle)["resources"]["Resources"]["LiveAlias"]
    assert alias["Properties"]["FunctionVersion"] == {
        "Fn::GetAtt": [next(iter(version_ids())), "Version"]
    }
    assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_mb": 64}, "--memory"),
        ({"log_retention_days": 10}, "--log-retention-days"),
        ({"endpoint": "none", "public": True}, "--public needs an endpoint"),
        (
            {"alarm_topic": True, "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:t"},
            "not both",
        ),
        ({"model_key": "k"}, "--model-key needs"),
        ({"python": "3.8"}, "--python"),
    ],
)
def test_bad_options_are_one_clear_error(
    render_bundle: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(SlpackError, match=message):
        render(render_bundle, ["sam"], RenderOptions(**options))


def test_missing_bundle_and_unknown_target(tmp_path: Path, render_bundle: Path) -> None:
    with pytest.raises(SlpackError, match="not a bundle"):
        render(tmp_path, ["sam"])
    with pytest.raises(SlpackError, match="unknown target heroku"):
        render(render_bundle, ["heroku"])


def test_cli_renders_with_options_and_reports_errors_in_one_line(
    run_cli: Any, render_bundle: Path, render_layer: Path
) -> None:
    ok = run_cli(
        "render",
        render_bundle,
        "--target",
        "sam,terraform",
        "--layer",
        render_layer,
        "--public",
        "--alarm",
        "latency_p99_ms=400",
        "--alarm",
        "out_of_range_pct=off",
        "--provisioned-concurrency",
        "2",
    )
    assert ok.code == 0, ok.err
    assert "public" in ok.err and "sam deploy" in ok.err
    fn = sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    assert fn["FunctionUrlConfig"]["AuthType"] == "NONE" and fn["ProvisionedConcurrencyConfig"]
    assert not (render_bundle / "deploy/serverless").exists()
    bad = run_cli("render", render_bundle, "--alarm", "latency=5")
    assert (
        bad.code == 1
        and bad.err.startswith("error: unknown alarm latency")
        and "Traceback" not in bad.err
    )


def test_snapstart_in_every_lambda_target(render_bundle: Path, render_layer: Path) -> None:
    rendered(render_bundle, layer=str(render_layer), snapstart=True)
    fn = sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    sls = sls_config(render_bundle)
    assert sls["resources"]["extensions"] == {
        "PredictLambdaFunction": {"Properties": {"SnapStart": {"ApplyOn": "PublishedVersions"}}}
    }
    assert "snapStart" not in sls["functions"]["predict"]  # no second alias of the framework's
    tf = tf_resources(render_bundle / "deploy" / "terraform")
    [snap] = tf[("aws_lambda_function", "this")]["snap_start"]
    assert tf_value(snap["apply_on"]) == "PublishedVersions"
    assert fn["Environment"]["Variables"]["SLPACK_EAGER"] == "0"  # the snapshot hook loads it


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"python": "3.11"}, r"--snapstart needs Python 3\.12 or later, and this deployment runs"),
        ({"provisioned_concurrency": 2}, r"--snapstart and --provisioned-concurrency cannot be"),
    ],
)
def test_snapstart_is_refused_where_it_cannot_apply(
    render_bundle: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(SlpackError, match=message):
        render(render_bundle, ["sam"], RenderOptions(snapstart=True, **options))


def test_snapstart_is_refused_for_the_container_image(
    render_bundle: Path, render_layer: Path
) -> None:
    with pytest.raises(SlpackError, match="SnapStart does not apply to container images"):
        render(render_bundle, ["image"], RenderOptions(layer=str(render_layer), snapstart=True))


@pytest.mark.parametrize(("python", "floor"), [("3.12", "3.41.0"), ("3.14", "3.60.0")])
def test_serverless_pins_a_framework_version_that_accepts_its_runtime(
    render_bundle: Path, tmp_path: Path, python: str, floor: str
) -> None:
    from conftest import write_render_layer

    layer = write_render_layer(tmp_path / python, python=python.replace(".", ""))
    rendered(render_bundle, layer=str(layer))
    sls = sls_config(render_bundle)
    assert sls["provider"]["runtime"] == f"python{python}"
    assert sls["frameworkVersion"] == f">={floor} <5"


def test_a_public_endpoint_is_capped_unless_told_otherwise(
    render_bundle: Path, render_layer: Path
) -> None:
    rendered(render_bundle, layer=str(render_layer), public=True)
    fn = sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    assert fn["ReservedConcurrentExecutions"] == 10
    rendered(render_bundle, layer=str(render_layer), public=True, reserved_concurrency=50)
    assert (
        sam_template(render_bundle)["Resources"]["Function"]["Properties"][
            "ReservedConcurrentExecutions"
        ]
        == 50
    )
    rendered(render_bundle, layer=str(render_layer))
    assert (
        "ReservedConcurrentExecutions"
        not in sam_template(render_bundle)["Resources"]["Function"]["Properties"]
    )
