"""``slpack deploy`` / ``rollback`` / ``status`` against a moto server over HTTP.

Each test starts from an empty (reset) moto account with one bucket, a small bundle
(``write_render_bundle``) and a synthetic layer zip: the control plane does not look inside them.
Nothing is invoked (moto would need Docker for that).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import (
    AWS_TEST_REGION,
    change_code,
    write_bundle_files,
    write_render_bundle,
    write_render_layer,
)

from slpack.alarms import alarm_specs
from slpack.deploy import DeployOptions, Outcome, deploy, rollback, status
from slpack.deploy.state import parse_description
from slpack.errors import SlpackError

BUCKET = "slpack-artifacts"


@dataclass
class Site:
    """The moto account a test deploys into, and what it deploys."""

    url: str
    bundle: Path
    layer: Path

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=AWS_TEST_REGION)

    def options(self, **overrides: Any) -> DeployOptions:
        settings: dict[str, Any] = {
            "bucket": BUCKET,
            "endpoint_url": self.url,
            "layer": str(self.layer),
        }
        return DeployOptions(**{**settings, **overrides})

    def deploy(self, **overrides: Any) -> Outcome:
        dry_run = overrides.pop("dry_run", False)
        return deploy(self.bundle, self.options(**overrides), dry_run=dry_run)

    def snapshot(self, name: str = "iris") -> dict[str, Any]:
        """What a redeploy must not change: code, configuration, versions, alias, URL, layers,
        objects."""
        lam = self.client("lambda")
        config = lam.get_function_configuration(FunctionName=name)
        alias = lam.get_alias(FunctionName=name, Name="live")
        return {
            "code": config["CodeSha256"],
            "config": {
                k: config.get(k)
                for k in ("MemorySize", "Timeout", "Runtime", "Layers", "Environment", "Role")
            },
            "versions": [
                v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
            ],
            "alias": (alias["FunctionVersion"], alias.get("RoutingConfig")),
            "url": lam.get_function_url_config(FunctionName=name, Qualifier="live")["FunctionUrl"],
            "layer_versions": len(
                lam.list_layer_versions(LayerName=_layer_name(self.layer))["LayerVersions"]
            ),
            "objects": sorted(
                o["Key"]
                for o in self.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
            ),
        }


def _layer_name(layer: Path) -> str:
    return layer.stem.replace(".", "-")


@pytest.fixture
def site(aws_env: str, tmp_path: Path) -> Site:
    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).create_bucket(
        Bucket=BUCKET
    )
    return Site(aws_env, write_render_bundle(tmp_path), write_render_layer(tmp_path))


def test_first_deploy_creates_the_function_and_everything_around_it(site: Site) -> None:
    outcome = site.deploy()

    assert outcome.applied and outcome.outputs["version"] == "1"
    lam = site.client("lambda")
    config = lam.get_function_configuration(FunctionName="iris")
    assert config["Handler"] == "slpack_handler.handler"
    assert (config["Runtime"], config["Architectures"]) == (
        "python3.12",
        ["arm64"],
    )  # from the layer's name
    assert (config["MemorySize"], config["Timeout"]) == (1024, 30)
    assert config["Environment"]["Variables"]["SLPACK_METRICS"] == "emf"
    assert config["Role"].endswith(":role/slpack-iris-role")
    [layer] = config["Layers"]
    published = lam.list_layer_versions(LayerName=_layer_name(site.layer))["LayerVersions"]
    assert [v["LayerVersionArn"] for v in published] == [layer["Arn"]]
    assert published[0]["CompatibleRuntimes"] == ["python3.12"]

    [version] = [
        v
        for v in lam.list_versions_by_function(FunctionName="iris")["Versions"]
        if v["Version"] != "$LATEST"
    ]
    assert parse_description(version["Description"]) == {
        "name": "iris",
        "version": "1a2b3c4d5e6f",
        "sha": json.loads((site.bundle / "slpack.json").read_text())["model"]["sha256"][:12],
    }
    assert lam.get_alias(FunctionName="iris", Name="live")["FunctionVersion"] == "1"
    url = lam.get_function_url_config(FunctionName="iris", Qualifier="live")
    assert url["AuthType"] == "AWS_IAM" and outcome.outputs["url"] == url["FunctionUrl"]

    alarms = site.client("cloudwatch").describe_alarms(AlarmNamePrefix="iris-")["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(
        s.alarm_name("iris") for s in alarm_specs()
    )
    keys = [o["Key"] for o in site.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 2 and all(k.startswith("slpack/") for k in keys)
    uploaded = site.client("s3").get_object(
        Bucket=BUCKET, Key=next(k for k in keys if k.endswith("function.zip"))
    )
    assert uploaded["Body"].read() == (site.bundle / "function.zip").read_bytes()

    iam = site.client("iam")
    policy = iam.get_role_policy(RoleName="slpack-iris-role", PolicyName="slpack-function")[
        "PolicyDocument"
    ]
    assert policy["Statement"][0]["Resource"].endswith(":log-group:/aws/lambda/iris:*")
    [group] = site.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/iris")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 365


def test_a_second_deploy_plans_only_no_ops_and_changes_nothing(site: Site) -> None:
    site.deploy()
    before = site.snapshot()

    again = site.deploy()

    assert again.plan.changes == [] and all(step.noop for step in again.plan.steps)
    assert site.snapshot() == before
    assert again.outputs == {"version": "1", "live": "1", "canary": {}, "url": before["url"]}


def test_dry_run_shows_the_plan_and_creates_nothing(site: Site) -> None:
    outcome = site.deploy(dry_run=True)

    assert not outcome.applied
    assert [s.resource for s in outcome.plan.changes][:5] == [
        "s3 object",
        "s3 object",
        "layer",
        "role",
        "log group",
    ]
    assert site.client("lambda").list_functions()["Functions"] == []
    assert "Contents" not in site.client("s3").list_objects_v2(Bucket=BUCKET)
    assert site.client("iam").list_roles()["Roles"] == []


def test_new_code_publishes_a_version_and_moves_live(site: Site) -> None:
    site.deploy()
    code_before = site.snapshot()["code"]
    change_code(site.bundle, "2b3c4d5e6f70")

    outcome = site.deploy()

    changed = {(s.resource, s.action) for s in outcome.plan.changes}
    assert {
        ("s3 object", "upload"),
        ("function code", "update"),
        ("version", "publish"),
        ("alias", "move"),
    } <= changed
    assert ("layer", "publish") not in changed and ("role", "create") not in changed
    after = site.snapshot()
    assert after["code"] != code_before and after["versions"] == ["$LATEST", "1", "2"]
    assert after["alias"][0] == "2"
    # The alarms watch the alias, so the new version needed no alarm change.
    assert not any(s.resource == "alarm" for s in outcome.plan.changes)
    [alarm] = site.client("cloudwatch").describe_alarms(AlarmNames=["iris-errors"])["MetricAlarms"]
    assert {"Name": "Resource", "Value": "iris:live"} in alarm["Dimensions"]


def test_a_configuration_change_alone_also_publishes(site: Site) -> None:
    site.deploy()
    outcome = site.deploy(memory_mb=2048)

    assert [(s.resource, s.action, s.detail) for s in outcome.plan.changes][:1] == [
        ("function configuration", "update", "MemorySize")
    ]
    assert site.snapshot()["versions"] == ["$LATEST", "1", "2"]
    assert (
        site.client("lambda").get_function_configuration(FunctionName="iris", Qualifier="live")[
            "MemorySize"
        ]
        == 2048
    )


def test_canary_promote_and_rollback(site: Site) -> None:
    site.deploy()
    change_code(site.bundle, "2b3c4d5e6f70")

    site.deploy(canary=10)
    lam = site.client("lambda")
    alias = lam.get_alias(FunctionName="iris", Name="live")
    assert alias["FunctionVersion"] == "1" and alias["RoutingConfig"][
        "AdditionalVersionWeights"
    ] == {"2": 0.1}
    assert site.deploy(canary=10).plan.changes == []  # the same canary again: nothing to do
    assert status("iris", endpoint_url=site.url).state.traffic == pytest.approx(
        {"1": 0.9, "2": 0.1}
    )

    rolled = rollback("iris", endpoint_url=site.url)  # during a canary: end it, all traffic on 1
    assert rolled.outputs == {"version": "1", "live": "1", "canary": {}}  # read back from AWS
    alias = lam.get_alias(FunctionName="iris", Name="live")
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    )

    promoted = site.deploy()  # a plain deploy sends everything to the new version
    assert [s.action for s in promoted.plan.changes] == ["move"]
    assert lam.get_alias(FunctionName="iris", Name="live")["FunctionVersion"] == "2"

    rollback("iris", endpoint_url=site.url)
    assert lam.get_alias(FunctionName="iris", Name="live")["FunctionVersion"] == "1"
    with pytest.raises(SlpackError, match="nothing to roll back to"):
        rollback("iris", endpoint_url=site.url)
    rollback("iris", endpoint_url=site.url, to="2")
    assert lam.get_alias(FunctionName="iris", Name="live")["FunctionVersion"] == "2"
    with pytest.raises(SlpackError, match=r"no version 7 \(published: 1, 2\)"):
        rollback("iris", endpoint_url=site.url, to="7")


def test_a_layer_already_published_is_reused(site: Site) -> None:
    site.deploy()
    objects = site.snapshot()["objects"]

    other = site.deploy(function_name="iris-shadow")

    [layer_step] = [s for s in other.plan.steps if s.resource == "layer"]
    assert layer_step.noop and "version 1 holds" in layer_step.detail
    after = site.snapshot("iris-shadow")
    assert after["layer_versions"] == 1
    [new] = sorted(set(after["objects"]) - set(objects))  # the layer zip was not uploaded again
    assert new.startswith("slpack/iris-shadow/") and new.endswith("/function.zip")
    assert site.client("iam").get_role(RoleName="slpack-iris-shadow-role")


def test_a_layer_arn_and_a_role_arn_are_used_as_given(site: Site) -> None:
    lam, iam = site.client("lambda"), site.client("iam")
    site.client("s3").put_object(Bucket=BUCKET, Key="layer.zip", Body=site.layer.read_bytes())
    arn = lam.publish_layer_version(
        LayerName="mine", Content={"S3Bucket": BUCKET, "S3Key": "layer.zip"}
    )["LayerVersionArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="given", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]

    outcome = site.deploy(layer=arn, role=role)

    config = lam.get_function_configuration(FunctionName="iris")
    assert [layer["Arn"] for layer in config["Layers"]] == [arn] and config["Role"] == role
    assert config["Runtime"] == "python3.12" and config["Architectures"] == [
        "x86_64"
    ]  # the defaults
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["given"]
    assert not any(s.resource in ("layer", "role") for s in outcome.plan.changes)


def test_url_modes_grant_and_revoke_public_access(site: Site) -> None:
    lam = site.client("lambda")

    def statements() -> list[str]:
        try:
            policy = json.loads(lam.get_policy(FunctionName="iris", Qualifier="live")["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            return []
        return sorted(s["Sid"] for s in policy["Statement"])

    site.deploy(url="public")
    assert lam.get_function_url_config(FunctionName="iris", Qualifier="live")["AuthType"] == "NONE"
    assert statements() == ["slpack-public-url", "slpack-public-url-invoke"]
    assert site.deploy(url="public").plan.changes == []

    site.deploy(url="iam")
    assert (
        lam.get_function_url_config(FunctionName="iris", Qualifier="live")["AuthType"] == "AWS_IAM"
    )
    assert statements() == []

    outcome = site.deploy(url="none")
    assert outcome.outputs["url"] is None
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName="iris", Qualifier="live")
    assert site.deploy(url="none").plan.changes == []


def test_the_bundles_own_layer_is_found_next_to_it(site: Site, tmp_path: Path) -> None:
    from slpack.ziputil import sha256_file

    layer = {"file": site.layer.name, "sha256": sha256_file(site.layer), "lock": {}}
    write_bundle_files(site.bundle, "iris", "1a2b3c4d5e6f", handler="", layer=layer)

    site.deploy(layer=None)  # dist/iris finds dist/layers/<file>
    config = site.client("lambda").get_function_configuration(FunctionName="iris")
    assert config["Layers"][0]["Arn"].split(":")[-2] == _layer_name(site.layer)

    with zipfile.ZipFile(site.layer, "a") as zf:
        zf.writestr("python/extra.py", "")  # the zip changed since the build
    with pytest.raises(SlpackError, match=r"nor in .* with the same hash; pass --layer"):
        site.deploy(layer=None)


def test_status_reads_versions_traffic_url_and_alarms(site: Site) -> None:
    site.deploy()
    now = status("iris", endpoint_url=site.url)

    assert [v["Version"] for v in now.state.versions] == ["1"]
    assert now.state.traffic == {"1": 1.0}
    assert now.state.url is not None and now.state.url["AuthType"] == "AWS_IAM"
    assert sum(now.alarm_counts().values()) == len(alarm_specs())
    with pytest.raises(SlpackError, match="there is no function nope in us-east-1"):
        status("nope", endpoint_url=site.url)


def test_alarms_follow_the_traffic_through_a_canary_and_a_rollback(site: Site) -> None:
    """Every alarm watches the live alias, so it sees what serves: both versions during a canary,
    the older one after a rollback; status says so for each alarm."""
    site.deploy()
    change_code(site.bundle, "2b3c4d5e6f70")
    site.deploy(canary=10)
    during = status("iris", endpoint_url=site.url)
    assert {during.watches(a) for a in during.alarms} == {"live: version 1 (90%), version 2 (10%)"}

    rollback("iris", endpoint_url=site.url)

    after = status("iris", endpoint_url=site.url)
    assert len(after.alarms) == len(alarm_specs())
    assert {after.watches(a) for a in after.alarms} == {"live: version 1 (100%)"}
    for alarm in after.alarms:  # every metric of every alarm names the alias, none a version
        math = [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
        queries = math or [alarm]
        for query in queries:
            dims = {d["Name"]: d["Value"] for d in query.get("Dimensions", [])}
            assert dims.get("Resource") == "iris:live" and "ModelVersion" not in dims, alarm


def test_status_names_an_alarm_left_on_an_old_model_version(site: Site) -> None:
    site.deploy()
    cloudwatch = site.client("cloudwatch")
    cloudwatch.put_metric_alarm(  # what an earlier slpack wrote: pinned to one model version
        AlarmName="iris-errors",
        Namespace="slpack",
        MetricName="Errors",
        Dimensions=[
            {"Name": "FunctionName", "Value": "iris"},
            {"Name": "ModelName", "Value": "iris"},
            {"Name": "ModelVersion", "Value": "0ld0ld0ld0ld"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    now = status("iris", endpoint_url=site.url)
    [pinned] = [a for a in now.alarms if a["AlarmName"] == "iris-errors"]
    assert now.watches(pinned).startswith("model 0ld0ld0ld0ld: serves no traffic")
    assert site.deploy().plan.changes[0].name == "iris-errors"  # a deploy puts it back on live


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda zf: zf.writestr("slpack_handler/__init__.py", "import os  # edited\n"),
            r"function\.zip: slpack_handler/__init__\.py has sha256 [0-9a-f]{64} but the manifest "
            r"recorded [0-9a-f]{64}; rebuild the bundle with slpack build\.",
        ),
        (
            lambda zf: zf.writestr("model/model.onnx", b"another model"),
            r"function\.zip: model/model\.onnx has sha256",
        ),
        (
            lambda zf: zf.writestr("slpack_handler/extra.py", "print('hi')\n"),
            r"function\.zip: slpack_handler/extra\.py is not in the manifest's files",
        ),
    ],
)
def test_a_tampered_bundle_is_refused_before_any_aws_call(
    site: Site, monkeypatch: pytest.MonkeyPatch, tamper: Any, message: str
) -> None:
    import slpack.deploy as deploy_module

    original = {
        n: zipfile.ZipFile(site.bundle / "function.zip").read(n)
        for n in zipfile.ZipFile(site.bundle / "function.zip").namelist()
    }
    with zipfile.ZipFile(site.bundle / "function.zip", "w") as zf:
        for name, data in original.items():
            if name not in ("slpack_handler/__init__.py", "model/model.onnx"):
                zf.writestr(name, data)
        tamper(zf)
        for name in ("slpack_handler/__init__.py", "model/model.onnx"):
            if name not in zf.namelist():
                zf.writestr(name, original[name])

    def no_aws(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("AWS was called for a bundle that fails verification")

    monkeypatch.setattr(deploy_module, "connect", no_aws)
    with pytest.raises(SlpackError, match=message):
        site.deploy()


def test_a_layer_that_differs_from_its_lock_is_refused(site: Site) -> None:
    with zipfile.ZipFile(site.layer, "a") as zf:
        zf.writestr("python/numpy/core.py", "")
    with pytest.raises(SlpackError, match=r"the layer .* has sha256 [0-9a-f]{64} but its lock"):
        site.deploy(dry_run=True)
    site.layer.with_suffix(".lock.json").unlink()
    with pytest.raises(SlpackError, match=r"has no lock file beside it"):
        site.deploy(dry_run=True)


def test_a_bundle_moved_to_another_folder_deploys_with_its_own_layer(
    site: Site, tmp_path: Path
) -> None:
    """render --layer puts the layer inside the bundle; the folder then travels alone."""
    import shutil

    from slpack.render import RenderOptions, render

    render(site.bundle, ["sam", "terraform"], RenderOptions(layer=str(site.layer)))
    moved = tmp_path / "elsewhere" / "handed-over" / "iris"
    shutil.move(str(site.bundle), moved)
    shutil.rmtree(site.layer.parent)  # nothing is left beside the old place

    outcome = deploy(moved, site.options(layer=None))

    assert outcome.outputs["version"] == "1"
    config = site.client("lambda").get_function_configuration(FunctionName="iris")
    assert config["Layers"][0]["Arn"].split(":")[-2] == _layer_name(site.layer)
    sam = (moved / "deploy" / "sam" / "template.yaml").read_text()
    assert "ContentUri: ../../layer/" in sam and "../../../" not in sam


def test_a_layer_arn_rendered_into_the_bundle_is_what_deploy_uses(site: Site) -> None:
    from slpack.deploy.options import layer_for
    from slpack.deployment.layer import bundle_layer

    arn = "arn:aws:lambda:us-east-1:123456789012:layer:ort:4"
    bundle_layer(site.bundle, arn)
    assert (site.bundle / "layer" / "arn.txt").read_text().strip() == arn
    assert layer_for(site.bundle, None) == arn
    assert layer_for(site.bundle, str(site.layer)) == str(site.layer)  # --layer still wins


def test_snapstart_is_part_of_the_function_configuration(site: Site, tmp_path: Path) -> None:
    """moto stores no SnapStart setting (it always answers ApplyOn None), so the plan's calls are
    what is checked; the deploy itself still runs against it."""
    outcome = site.deploy(snapstart=True)

    [create] = [
        c for s in outcome.plan.changes for c in s.calls if c.operation == "create_function"
    ]
    assert create.params["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert outcome.outputs["version"] == "1"
    old = write_render_layer(tmp_path / "old", python="311")
    with pytest.raises(SlpackError, match=r"--snapstart needs Python 3\.12 or later"):
        site.deploy(snapstart=True, layer=str(old))


def test_a_public_url_gets_a_concurrency_cap(site: Site) -> None:
    lam = site.client("lambda")
    site.deploy(url="public")
    assert lam.get_function_concurrency(FunctionName="iris")["ReservedConcurrentExecutions"] == 10
    assert site.deploy(url="public").plan.changes == []  # idempotent
    site.deploy(url="public", reserved_concurrency=3)
    assert lam.get_function_concurrency(FunctionName="iris")["ReservedConcurrentExecutions"] == 3


def test_a_sklearn_runtime_bundle_is_refused_before_any_aws_call(tmp_path: Path) -> None:
    from conftest import write_render_bundle

    from slpack.deploy.options import resolve_bundle

    bundle = write_render_bundle(tmp_path, runtime="sklearn")
    with pytest.raises(SlpackError, match=r"sklearn runtime.*render --target image"):
        resolve_bundle(bundle, DeployOptions(bucket="artifacts"))
