"""Two deploys of one function at once, against one moto server: one applies, the other waits
(``--wait``) or stops with one sentence; the alias, the alarms and what each printed agree with
what AWS holds after.

moto does not check Lambda's ``RevisionId`` (it accepts and ignores it), so the refusal of a write
whose revision moved is checked with botocore's Stubber answering PreconditionFailedException.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import AWS_TEST_REGION, change_code, write_render_bundle, write_render_layer

from slpack.deploy import DeployOptions, Outcome, deploy, status
from slpack.deploy.apply import apply_plan
from slpack.deploy.aws import Aws
from slpack.deploy.function import alias_step
from slpack.deploy.state import FunctionState
from slpack.deploy.steps import Plan
from slpack.errors import SlpackError

BUCKET = "slpack-artifacts"


@pytest.fixture
def two_bundles(aws_env: str, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Function iris deployed once (version 1); two rebuilt bundles of it, versions 2 and 3."""
    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).create_bucket(
        Bucket=BUCKET
    )
    layer = write_render_layer(tmp_path)
    first = write_render_bundle(tmp_path / "first")
    deploy(first, _options(aws_env, layer))
    a, b = write_render_bundle(tmp_path / "a"), write_render_bundle(tmp_path / "b")
    change_code(a, "aaaaaaaaaaaa")
    change_code(b, "bbbbbbbbbbbb")
    return a, b, layer


def _options(url: str, layer: Path, **overrides: Any) -> DeployOptions:
    return DeployOptions(bucket=BUCKET, endpoint_url=url, layer=str(layer), **overrides)


def _live(url: str) -> tuple[str, dict[str, float]]:
    lam = boto3.client("lambda", endpoint_url=url, region_name=AWS_TEST_REGION)
    alias = lam.get_alias(FunctionName="iris", Name="live")
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    ) or {}


def test_a_second_deploy_stops_with_one_sentence_while_the_first_holds_the_lease(
    aws_env: str, two_bundles: tuple[Path, Path, Path]
) -> None:
    a, b, layer = two_bundles
    refused: list[SlpackError] = []

    def meanwhile(plan: Plan) -> None:  # A has read AWS and holds the lease; B starts now
        with pytest.raises(SlpackError) as caught:
            deploy(b, _options(aws_env, layer))
        refused.append(caught.value)

    outcome = deploy(a, _options(aws_env, layer), on_plan=meanwhile)

    [error] = refused
    message = str(error)
    assert message.startswith("another deploy of iris is running (") and "\n" not in message
    assert f"lease s3://{BUCKET}/slpack/iris/deploy.lease" in message and "--wait" in message
    assert outcome.outputs["live"] == outcome.outputs["version"] == "2"
    assert _live(aws_env) == ("2", {})  # what A printed is what AWS holds
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "slpack/iris/deploy.lease" not in keys  # released


def test_a_second_deploy_with_wait_queues_behind_the_first_and_both_report_the_truth(
    aws_env: str, two_bundles: tuple[Path, Path, Path]
) -> None:
    a, b, layer = two_bundles
    results: dict[str, Outcome] = {}
    started = threading.Event()

    def run_b() -> None:
        started.set()
        results["b"] = deploy(b, _options(aws_env, layer, wait_s=60))

    thread = threading.Thread(target=run_b)

    def meanwhile(plan: Plan) -> None:  # B starts while A holds the lease, and has to wait
        thread.start()
        started.wait(5)

    results["a"] = deploy(a, _options(aws_env, layer), on_plan=meanwhile)
    live_after_a = _live(aws_env)
    thread.join(60)

    assert results["a"].outputs["live"] == "2" and live_after_a[0] in ("2", "3")
    assert results["b"].outputs["version"] == results["b"].outputs["live"] == "3"
    assert _live(aws_env) == ("3", {})  # the last one to finish is what serves
    now = status("iris", endpoint_url=aws_env)
    assert [v["Version"] for v in now.state.versions] == ["1", "2", "3"]
    assert {now.watches(alarm) for alarm in now.alarms} == {"live: version 3 (100%)"}


def test_an_expired_lease_of_a_crashed_deploy_is_taken_over(
    aws_env: str, two_bundles: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from slpack.deploy import lease

    a, _, layer = two_bundles
    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).put_object(
        Bucket=BUCKET, Key="slpack/iris/deploy.lease", Body=b'{"holder": "x", "started": "y"}'
    )
    with pytest.raises(SlpackError, match="another deploy of iris is running"):
        deploy(a, _options(aws_env, layer))
    monkeypatch.setattr(lease, "LEASE_S", -1)  # as if its 15 minutes had passed

    assert deploy(a, _options(aws_env, layer)).outputs["live"] == "2"


def test_a_write_whose_revision_moved_is_refused_in_one_sentence() -> None:
    """UpdateAlias names the RevisionId read at plan time; Lambda refuses it once the alias moved
    (another deploy or a rollback in between), and nothing is overwritten."""
    alias = {"FunctionVersion": "2", "RevisionId": "rev-read-at-plan-time", "Name": "live"}
    state = FunctionState("iris", {"RevisionId": "f"}, (), alias, None, frozenset())
    plan = Plan("iris", "us-east-1", (alias_step(state, "1", {}),))
    client = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_client_error(
        "update_alias",
        service_error_code="PreconditionFailedException",
        http_status_code=412,
        expected_params={
            "FunctionName": "iris",
            "Name": "live",
            "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {}},
            "RevisionId": "rev-read-at-plan-time",
        },
    )
    aws = Aws(region="us-east-1", endpoint_url=None, session=None, _clients={"lambda": client})
    with stubber, pytest.raises(SlpackError) as caught:
        apply_plan(plan, aws)
    assert str(caught.value).startswith(
        "alias iris:live changed after this command read it (its RevisionId no longer matches"
    )
    assert "run slpack status, then run the command again." in str(caught.value)
