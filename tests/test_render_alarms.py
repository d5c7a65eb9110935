"""slpack.alarms: one alarm definition for the templates and for boto3's put_metric_alarm."""

from __future__ import annotations

import pytest

from slpack.alarms import AlarmTarget, AlarmThresholds, alarm_properties, alarm_specs, dimensions

TARGET = AlarmTarget(function_name="iris")


def _put_metric_alarm_shape():  # type: ignore[no-untyped-def]
    botocore_session = pytest.importorskip("botocore.session")
    model = botocore_session.get_session().get_service_model("cloudwatch")
    return model.operation_model("PutMetricAlarm").input_shape


def test_every_alarm_is_a_valid_put_metric_alarm_request() -> None:
    """boto3 would accept each alarm as it is (botocore's own parameter validation)."""
    from botocore.validate import ParamValidator

    shape = _put_metric_alarm_shape()
    for spec in alarm_specs():
        params = alarm_properties(spec, TARGET, actions=["arn:aws:sns:eu-west-1:123456789012:ops"])
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), f"{spec.key}: {report.generate_report()}"


def test_default_alarms_cover_errors_latency_throttles_validation_and_drift() -> None:
    specs = {s.key: s for s in alarm_specs()}
    assert set(specs) == {
        "errors",
        "function-errors",
        "model-load-failures",
        "throttles",
        "latency-p99",
        "validation-error-rate",
        "drift-unknown-category",
        "drift-out-of-range",
        "drift-missing-value",
    }
    props = alarm_properties(specs["latency-p99"], TARGET)
    assert (
        props["ExtendedStatistic"] == "p99"
        and props["MetricName"] == "TotalMs"
        and "Statistic" not in props
    )
    assert {s.key for s in specs.values() if s.rollback} == {
        "errors",
        "function-errors",
        "model-load-failures",
        "throttles",
        "latency-p99",
    }


def test_rates_are_metric_math_over_the_right_denominators() -> None:
    specs = {s.key: s for s in alarm_specs()}
    rate = alarm_properties(specs["validation-error-rate"], TARGET)
    assert "MetricName" not in rate and rate["Metrics"][0] == {
        "Id": "rate",
        "Expression": "100 * FILL(v, 0) / n",
        "Label": "validation-error-rate",
        "ReturnData": True,
    }
    names = {q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in rate["Metrics"][1:]}
    assert names == {"v": "ValidationErrors", "n": "Invocations"}
    drift = alarm_properties(specs["drift-out-of-range"], TARGET)
    assert {q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in drift["Metrics"][1:]} == {
        "d": "OutOfRange",
        "rows": "BatchSize",
    }


def test_dimensions_follow_the_handler_and_the_alias() -> None:
    emf, alias = (
        next(s for s in alarm_specs() if s.key == k).metrics[0] for k in ("errors", "throttles")
    )
    # The handler's metric and Lambda's are read on the same alias: neither names a version.
    assert dimensions(emf, TARGET) == {"FunctionName": "iris", "Resource": "iris:live"}
    assert dimensions(alias, TARGET) == {"FunctionName": "iris", "Resource": "iris:live"}
    props = alarm_properties(
        next(s for s in alarm_specs() if s.key == "errors"),
        AlarmTarget("f", namespace="acme"),
    )
    assert props["Namespace"] == "acme" and props["AlarmName"] == "f-errors"


def test_thresholds_override_and_switch_off() -> None:
    thresholds = AlarmThresholds().with_overrides({"latency_p99_ms": 250, "out_of_range_pct": None})
    specs = {s.key: s for s in alarm_specs(thresholds)}
    assert specs["latency-p99"].threshold == 250 and "drift-out-of-range" not in specs
    with pytest.raises(KeyError):
        AlarmThresholds().with_overrides({"latency": 1})


def test_actions_go_to_alarm_and_ok_and_logical_ids_are_stable() -> None:
    spec = alarm_specs()[0]
    props = alarm_properties(spec, TARGET, actions=["arn:topic"])
    assert props["AlarmActions"] == props["OKActions"] == ["arn:topic"]
    assert "AlarmActions" not in alarm_properties(spec, TARGET)
    assert [s.logical_id for s in alarm_specs()][:2] == ["ErrorsAlarm", "FunctionErrorsAlarm"]
