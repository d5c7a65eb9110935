"""Drift in the rendered templates: the dashboard's tables, the prediction drift alarm, the gcp
and azure drift.tf; and every query language's index equal to ``slpack.drift.psi.psi``.

The AWS templates of a bundle with a baseline also go through cfn-lint, checkov and terraform fmt
with the other variants (tests/test_render_validators.py, variant "drift").
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import DRIFT_BASELINE, write_drift_baseline, write_render_bundle
from test_render import sam_template, tf_resources, tf_value
from test_render_validators import _checkov

from slpack.alarms import AlarmThresholds, alarm_properties, alarm_specs
from slpack.drift import queries
from slpack.drift.psi import psi
from slpack.drift.sketches import Layout, Part
from slpack.render import RenderOptions, RenderWarning, render

COUNTS = [[12, 30, 7, 1], [5, 40, 3, 2], [20, 20, 10], [33, 17], [9, 30, 11]]


def _layout() -> Layout:
    return Layout("iris", "1a2b3c4d5e6f", DRIFT_BASELINE, "test")


def _rendered(bundle: Path, targets: list[str], **options: Any) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RenderWarning)
        render(bundle, targets, RenderOptions(**options))
    return bundle / "deploy"


@pytest.fixture
def drift_bundle(tmp_path: Path) -> Path:
    return write_drift_baseline(write_render_bundle(tmp_path))


# -- one formula, four languages --------------------------------------------------------------


def _evaluate(expression: str, names: dict[str, float]) -> float:
    """An arithmetic expression with ``log``/``LOG``/``ln`` and ``IF``, evaluated in Python."""
    scope = {"log": math.log, "LOG": math.log, "ln": math.log, "IF": lambda c, a, b: a if c else b}
    return float(eval(expression, {"__builtins__": {}}, {**scope, **names}))


@pytest.mark.parametrize("position", range(len(COUNTS)))
def test_the_logs_insights_query_reads_the_sketch_and_computes_psi(position: int) -> None:
    layout = _layout()
    part = layout.parts[position]
    query = queries.insights_query("/aws/lambda/iris", layout.version, position, part)
    assert query.startswith("SOURCE '/aws/lambda/iris'\n")
    assert '| filter @message like \'"ModelVersion":"1a2b3c4d5e6f"\'' in query
    # The regular expression finds this part's token in an EMF line (named groups in Python's
    # spelling), whatever the other tokens hold.
    sketch = " ".join(",".join(map(str, c)) for c in COUNTS)
    line = json.dumps({"ModelVersion": "1a2b3c4d5e6f", "drift": sketch}, separators=(",", ":"))
    pattern = re.search(r"\| parse @message /(.*)/\n", query)
    assert pattern is not None
    match = re.search(pattern.group(1).replace("(?<", "(?P<"), line)
    assert match is not None
    counts = [int(match.group(f"c{i}")) for i in range(len(part.shares))]
    assert counts == COUNTS[position]
    stats = query.split("| stats ", 1)[1]
    expression = stats.split(" as total_rows, ", 1)[1].split(" as psi, ", 1)[0]
    names = {f"sum_c{i}": n for i, n in enumerate(counts)} | {"sum_rows": sum(counts)}
    python = re.sub(r"sum\((c\d+|rows)\)", r"sum_\1", expression)
    assert _evaluate(python, names) == pytest.approx(psi(counts, part.shares))
    aliases = re.findall(r" as (pct\d+_?\w*)", stats)
    assert len(aliases) == len(part.shares) and all(re.fullmatch(r"\w+", a) for a in aliases)


def test_metric_math_and_promql_compute_the_same_index() -> None:
    part = _layout().prediction
    assert part is not None
    counts = [150, 20, 30]
    total, expression = queries.metric_math(part)
    filled = {f"b{i}": n for i, n in enumerate(counts)}
    t = _evaluate(re.sub(r"FILL\((b\d), 0\)", r"\1", total), filled)
    value = _evaluate(re.sub(r"FILL\((b\d), 0\)", r"\1", expression), {**filled, "t": t})
    assert t == 200 and value == pytest.approx(psi(counts, part.shares)) and value > 0.25
    few = _evaluate(
        re.sub(r"FILL\((b\d), 0\)", r"\1", expression), {"b0": 5, "b1": 0, "b2": 0, "t": 5}
    )
    assert few == 0  # under MIN_ROWS predictions the alarm does not judge

    types = [f"logging.googleapis.com/user/slpack/iris/prediction_bin_{i}" for i in range(3)]
    rows = "logging.googleapis.com/user/slpack/iris/prediction_rows"
    promql = queries.promql_psi(types, rows, part, "cloud_run_revision")
    selector = re.compile(r"\(sum\(increase\((\w+:\w+)_sum\{[^}]*\}\[1h\]\)\) or vector\(0\)\)")
    found = dict(zip([queries.promql_metric(t) for t in [*types, rows]], [*counts, sum(counts)]))
    assert set(selector.findall(promql)) == set(found)
    psi_part, guard = promql.split(" and on() ")
    assert guard.endswith(f">= {queries.MIN_ROWS})")
    python = selector.sub(lambda m: str(found[m.group(1)]), psi_part)
    assert _evaluate(python, {}) == pytest.approx(psi(counts, part.shares))
    assert (
        queries.promql_metric(types[0])
        == "logging_googleapis_com:user_slpack_iris_prediction_bin_0"
    )


def test_kql_carries_the_baseline_and_the_same_prior() -> None:
    layout = _layout()
    every = queries.kql_psi(layout.version, layout.parts)
    shares = json.loads(re.search(r"let shares = dynamic\((.*)\);", every).group(1))  # type: ignore[union-attr]
    names = json.loads(re.search(r"let names = dynamic\((.*)\);", every).group(1))  # type: ignore[union-attr]
    assert shares == [p.shares for p in layout.parts] and names[-1] == "prediction"
    assert "| extend weight = 0.5 * array_length(e)" in every
    assert "| extend a = (c + weight * e) / (rows + weight)" in every
    assert "psi = sum((a - e) * log(a / e))" in every
    alone = queries.kql_psi(layout.version, [layout.parts[-1]], first=len(layout.features))
    assert f"| extend part = part - {len(layout.features)}" in alone


def test_constants_have_no_exponent() -> None:
    assert queries.number(0.000005) == "0.000005" and queries.number(2.0) == "2"
    assert queries.number(1 / 3) == "0.33333333"


# -- the AWS dashboard and alarm --------------------------------------------------------------


def test_dashboard_has_a_table_per_feature_and_the_prediction_drift_graphs(
    drift_bundle: Path,
) -> None:
    _rendered(drift_bundle, ["sam"])
    join = sam_template(drift_bundle)["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    body = json.loads("".join(p if isinstance(p, str) else "X" for p in join["Fn::Join"][1]))
    tables = [w for w in body["widgets"] if w["type"] == "log"]
    titles = [w["properties"]["title"] for w in tables]
    assert titles == [
        "Drift: sepal length (cm) (number; PSI vs baseline)",
        "Drift: plan (category; PSI vs baseline)",
        "Drift: note (length; PSI vs baseline)",
        "Drift: member (boolean; PSI vs baseline)",
        "Drift: predictions (class; PSI vs baseline)",
    ]
    for position, widget in enumerate(tables):
        props = widget["properties"]
        assert props["view"] == "table" and props["region"] == "X"
        assert props["query"].startswith("SOURCE '/aws/lambda/iris'")
        assert ("{" + str(position) + "}" in props["query"]) == (position > 0)
    graphs = {
        w["properties"]["title"]: w["properties"] for w in body["widgets"] if w["type"] == "metric"
    }
    drift = graphs["Prediction drift (PSI per hour, vs the build's baseline)"]
    alarm = next(
        s for s in alarm_specs(prediction=_layout().prediction) if s.key == "prediction-drift"
    )
    assert drift["metrics"][0][0]["expression"] == alarm.expression and drift["period"] == 3600
    assert {a["value"] for a in drift["annotations"]["horizontal"]} == {0.1, 0.25}
    arns = body["widgets"][0]["properties"]["alarms"]
    assert any(a.endswith(":alarm:iris-prediction-drift") for a in arns)
    widgets = body["widgets"]
    assert not [(a, b) for i, a in enumerate(widgets) for b in widgets[i + 1 :] if _overlap(a, b)]


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two dashboard widgets cover a common cell."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_prediction_drift_alarm_is_a_valid_metric_math_alarm_on_the_alias() -> None:
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    shape = get_session().get_service_model("cloudwatch").operation_model("PutMetricAlarm")
    many = Part("prediction", "class", [f"c{i}" for i in range(10)], [0.1] * 10)
    for part in (_layout().prediction, many):
        assert part is not None
        (spec,) = [s for s in alarm_specs(prediction=part) if s.key == "prediction-drift"]
        props = alarm_properties(spec, _target())
        report = ParamValidator().validate(props, shape.input_shape)
        assert not report.has_errors(), report.generate_report()
        stats = [m for m in props["Metrics"] if "MetricStat" in m]
        assert len(stats) == len(part.shares) <= 10 and len(props["Metrics"]) - len(stats) == 2
        assert all(len(m["Expression"]) <= 2048 for m in props["Metrics"] if "Expression" in m)
        dims = stats[0]["MetricStat"]["Metric"]["Dimensions"]
        assert dims == [
            {"Name": "FunctionName", "Value": "iris"},
            {"Name": "Resource", "Value": "iris:live"},
        ]
        assert props["Threshold"] == 0.25 and not spec.rollback  # it notifies; it never rolls back
    assert "prediction-drift" not in {s.key for s in alarm_specs()}
    off = AlarmThresholds(prediction_psi=None)
    assert "prediction-drift" not in {s.key for s in alarm_specs(off, _layout().prediction)}


def _target() -> Any:
    from slpack.alarms import AlarmTarget

    return AlarmTarget(function_name="iris")


def test_render_threshold_option_moves_the_alarm(drift_bundle: Path, run_cli: Any) -> None:
    result = run_cli(
        "render", drift_bundle, "--target", "terraform", "--alarm", "prediction_psi=0.4"
    )
    assert result.code == 0, result.err
    resources = tf_resources(drift_bundle / "deploy/terraform")
    alarm = resources[("aws_cloudwatch_metric_alarm", "prediction_drift")]
    assert tf_value(alarm["threshold"]) == 0.4


def test_deploy_puts_the_prediction_drift_alarm_once(aws_env: str, tmp_path: Path) -> None:
    """slpack deploy creates the same alarm as the templates, and a second deploy finds it
    unchanged (what CloudWatch hands back compares equal to what was put)."""
    import boto3
    from conftest import AWS_TEST_REGION, write_render_layer

    from slpack.deploy import deploy
    from slpack.deploy.options import DeployOptions

    boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION).create_bucket(
        Bucket="drift-artifacts"
    )
    bundle = write_drift_baseline(write_render_bundle(tmp_path))
    options = DeployOptions(
        bucket="drift-artifacts", endpoint_url=aws_env, layer=str(write_render_layer(tmp_path))
    )
    first = deploy(bundle, options)
    assert any(s.name == "iris-prediction-drift" and s.action == "create" for s in first.plan.steps)
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_env, region_name=AWS_TEST_REGION)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["iris-prediction-drift"])["MetricAlarms"]
    assert {q["Id"] for q in alarm["Metrics"]} == {"psi", "t", "b0", "b1", "b2"}
    again = deploy(bundle, options)
    (step,) = [s for s in again.plan.steps if s.name == "iris-prediction-drift"]
    assert step.action == "unchanged"


# -- Google Cloud and Azure -------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform_drift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = write_drift_baseline(write_render_bundle(tmp_path_factory.mktemp("platform-drift")))
    return _rendered(bundle, ["gcp", "azure"])


def test_gcp_gets_log_based_metrics_and_a_promql_alert(platform_drift: Path) -> None:
    resources = tf_resources(platform_drift / "gcp/terraform")
    metrics = {k for t, k in resources if t == "google_logging_metric"}
    assert {
        "prediction_bin_0",
        "prediction_bin_1",
        "prediction_bin_2",
        "prediction_rows",
    } <= metrics
    policy = resources[("google_monitoring_alert_policy", "prediction_drift")]
    condition = tf_value(tf_value(policy["conditions"])["condition_prometheus_query_language"])
    query = tf_value(condition["query"])
    assert query.endswith(") > 0.25") and "user_slpack_iris_prediction_rows_sum" in query
    bin0 = resources[("google_logging_metric", "prediction_bin_0")]
    assert tf_value(bin0["value_extractor"]) == "EXTRACT(jsonPayload.metrics.PredictionBin0)"


def test_azure_gets_a_saved_search_and_a_scheduled_query_alert(platform_drift: Path) -> None:
    resources = tf_resources(platform_drift / "azure/terraform")
    search = resources[("azurerm_log_analytics_saved_search", "drift")]
    assert "AppTraces" in tf_value(search["query"])
    alert = resources[("azurerm_monitor_scheduled_query_rules_alert_v2", "prediction_drift")]
    criteria = tf_value(alert["criteria"])
    assert tf_value(criteria["metric_measure_column"]) == "psi"
    assert tf_value(criteria["threshold"]) == 0.25
    assert "| where rows >= 100" in tf_value(criteria["query"])


def test_no_drift_file_without_a_baseline(tmp_path: Path) -> None:
    deploy = _rendered(write_render_bundle(tmp_path), ["gcp", "azure"])
    assert not (deploy / "gcp/terraform/drift.tf").exists()
    assert not (deploy / "azure/terraform/drift.tf").exists()


@pytest.mark.skipif(shutil.which("terraform") is None, reason="the terraform CLI is not installed")
def test_platform_drift_files_are_terraform_fmt_clean(platform_drift: Path) -> None:
    for platform in ("gcp", "azure"):
        proc = subprocess.run(
            ["terraform", "fmt", "-check", "-diff", str(platform_drift / platform / "terraform")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_checkov_passes_on_the_platform_folders_with_drift(
    platform_drift: Path, tmp_path: Path
) -> None:
    root = tmp_path / "scan"
    for platform in ("gcp", "azure"):
        shutil.copytree(
            platform_drift / platform / "terraform",
            root / platform,
            ignore=shutil.ignore_patterns("*.zip"),
        )
    report = _checkov(root, "terraform")
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert not failed, failed
    summary = report["summary"]
    expected = sum(len(tf_resources(root / p)) for p in ("gcp", "azure"))
    assert summary["parsing_errors"] == 0 and summary["resource_count"] == expected
