"""The CloudWatch alarms of a slpack function, defined once as data.

Every deployment target (the SAM, Serverless and Terraform templates) and ``slpack deploy``
(boto3 ``put_metric_alarm``) consume the same :class:`AlarmSpec` list, so an alarm cannot mean
one thing in a template and another after a direct deploy.

The alarms watch the ``live`` alias, whatever version serves it, in two sources:

- the handler's EMF metrics (namespace ``slpack`` unless ``SLPACK_METRICS_NAMESPACE`` says
  otherwise) in their serving dimension set, ``FunctionName`` + ``Resource = "<function>:live"``
  (the handler reads the alias from the invoked ARN; docs/handler.md);
- Lambda's own metrics (``AWS/Lambda``) of the alias, with the same two dimensions.

Watching the alias rather than a model version is what keeps the alarms true: during a canary
they see both versions' traffic, after a rollback the version serving, and a deploy never has to
move them (so no deploy can leave the alias and the alarms on different versions). The handler's
per-model dimension set (``ModelName``, ``ModelVersion``) stays for dashboards and comparisons.

Rates (validation errors per request, drift signals per row) are CloudWatch metric math, so a
busy function and a quiet one share one threshold. So is prediction drift: the population
stability index of an hour's predictions against the bundle's baseline, computed from one metric
per prediction bin (the handler emits them for the alias only; metric math reads at most ten).

Usage::

    from slpack.alarms import AlarmTarget, AlarmThresholds, alarm_properties, alarm_specs

    target = AlarmTarget(function_name="iris")
    for spec in alarm_specs(AlarmThresholds(latency_p99_ms=500)):
        cloudwatch.put_metric_alarm(**alarm_properties(spec, target, actions=[topic_arn]))

:func:`alarm_properties` returns the keys shared by boto3's ``put_metric_alarm`` and
CloudFormation's ``AWS::CloudWatch::Alarm`` (the two use the same names), with whatever values
:class:`AlarmTarget` carries: plain strings for boto3, intrinsic functions for a template.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from slpack_handler.contract import ALIAS, NAMESPACE, SERVING_DIMENSIONS

if TYPE_CHECKING:
    from slpack.drift.sketches import Part

SLPACK_NAMESPACE = NAMESPACE
LAMBDA_NAMESPACE = "AWS/Lambda"

Scope = Literal["handler", "alias", "function"]
"""Which metric a :class:`MetricRef` names.

``handler``: the handler's EMF metric for the alias (its serving set: FunctionName, Resource);
``alias``: Lambda's metric for the alias (FunctionName, Resource);
``function``: Lambda's metric for every version of the function (FunctionName).
"""


@dataclass(frozen=True)
class MetricRef:
    """One metric an alarm reads, and the statistic it takes of it."""

    id: str  # the metric-math identifier (lowercase, used in ``AlarmSpec.expression``)
    metric_name: str
    scope: Scope
    stat: str  # Sum, Average, Maximum, SampleCount, or a percentile such as p99


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm, independent of where it is deployed.

    A single-metric alarm has one entry in ``metrics`` and no ``expression``; a metric-math alarm
    lists its inputs and computes the alarmed value with ``expression``.
    """

    key: str  # kebab-case; the alarm is named "<function>-<key>"
    description: str
    metrics: tuple[MetricRef, ...]
    threshold: float
    comparison_operator: str
    period: int  # seconds
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str = "notBreaching"
    expression: str | None = None
    rollback: bool = False  # gates gradual deployments: alarming rolls the alias back
    result_id: str = "rate"  # the metric-math id of the alarmed expression
    helpers: tuple[tuple[str, str], ...] = ()  # (id, expression) the alarmed expression reads

    @property
    def logical_id(self) -> str:
        """A CloudFormation/Terraform-friendly identifier: ``p99-latency`` ->
        ``P99LatencyAlarm``."""
        return "".join(part[:1].upper() + part[1:] for part in self.key.split("-")) + "Alarm"

    def alarm_name(self, function_name: str) -> str:
        """The CloudWatch alarm name for ``function_name`` (unique per function and alarm)."""
        return f"{function_name}-{self.key}"


@dataclass(frozen=True)
class AlarmTarget:
    """The values that place the alarms on one deployed function.

    Values are usually strings; templates pass their own expressions instead (for instance
    ``{"Fn::Sub": "${Function}:live"}`` for ``alias_resource``) and get them back in place. No
    value names a version or a model: the alarms follow the alias.
    """

    function_name: Any
    alias_resource: Any = None  # "<function>:<alias>"; default: f"{function_name}:live"
    namespace: Any = SLPACK_NAMESPACE

    def resource(self) -> Any:
        """The ``Resource`` dimension value of the alias."""
        if self.alias_resource is not None:
            return self.alias_resource
        return f"{self.function_name}:{ALIAS}"


@dataclass(frozen=True)
class AlarmThresholds:
    """User-tunable thresholds; ``None`` switches that alarm off.

    Counts are per minute, rates are percentages over five minutes, latency is the p99 of the
    handler's ``TotalMs`` (which includes model loading on a cold start).
    """

    errors: float | None = 1  # 5xx answered by the handler (faults of ours) per minute
    function_errors: float | None = 1  # Lambda errors (crashes, timeouts) on the alias per minute
    model_load_failures: float | None = 1  # model missing, hash mismatch, S3 unreachable
    throttles: float | None = 1  # throttled invocations of the alias per minute
    latency_p99_ms: float | None = 1000.0  # p99 TotalMs, 3 of 5 minutes above
    validation_error_rate_pct: float | None = 10.0  # % of invocations answered 4xx validation
    unknown_category_pct: float | None = 5.0  # % of rows with an unseen category
    out_of_range_pct: float | None = 5.0  # % of rows with a value outside the sample's range
    missing_value_pct: float | None = 10.0  # % of rows with a missing value
    prediction_psi: float | None = 0.25  # PSI of an hour's predictions against the baseline

    @classmethod
    def names(cls) -> list[str]:
        """The threshold names, as accepted by :meth:`with_overrides`."""
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict[str, float | None]) -> AlarmThresholds:
        """A copy with some thresholds replaced; unknown names raise ``KeyError``."""
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise KeyError(", ".join(unknown))
        values = {name: getattr(self, name) for name in self.names()}
        values.update(overrides)
        return AlarmThresholds(**values)


def _count_alarm(
    key: str, description: str, metric: str, scope: Scope, threshold: float
) -> AlarmSpec:
    """At least ``threshold`` events in a minute; these measure the new code, so they gate
    rollouts."""
    return AlarmSpec(
        key=key,
        description=description,
        metrics=(MetricRef("m", metric, scope, "Sum"),),
        threshold=threshold,
        comparison_operator="GreaterThanOrEqualToThreshold",
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        rollback=True,
    )


def _rate_alarm(
    key: str,
    description: str,
    numerator: MetricRef,
    denominator: MetricRef,
    threshold: float,
    *,
    evaluation_periods: int,
) -> AlarmSpec:
    return AlarmSpec(
        key=key,
        description=description,
        metrics=(numerator, denominator),
        # FILL: a period with traffic but no event is a 0% rate, not a gap.
        expression=f"100 * FILL({numerator.id}, 0) / {denominator.id}",
        threshold=threshold,
        comparison_operator="GreaterThanThreshold",
        period=300,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
    )


_ROWS = MetricRef("rows", "BatchSize", "handler", "Sum")  # rows predicted: the drift denominator
_INVOCATIONS = MetricRef("n", "Invocations", "alias", "Sum")


PREDICTION_DRIFT = "prediction-drift"


def prediction_drift_alarm(prediction: Part, threshold: float) -> AlarmSpec:
    """The population stability index of the last hour's predictions against the baseline's
    (docs/drift.md), from the handler's ``PredictionBin<i>`` metrics of the alias; 0 until the
    hour holds enough predictions to judge."""
    from slpack.drift import queries

    total, expression = queries.metric_math(prediction)
    return AlarmSpec(
        key=PREDICTION_DRIFT,
        description=(
            "Prediction drift: PSI of the last hour's predictions against the build's baseline "
            f"(from {queries.MIN_ROWS} predictions on; above 0.25 is a significant shift)."
        ),
        metrics=tuple(
            MetricRef(i, name, "handler", "Sum")
            for i, name in zip(queries.metric_ids(prediction), queries.metric_names(prediction))
        ),
        helpers=(("t", total),),
        expression=expression,
        result_id="psi",
        threshold=threshold,
        comparison_operator="GreaterThanThreshold",
        period=queries.WINDOW_S,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    )


def alarm_specs(
    thresholds: AlarmThresholds | None = None, prediction: Part | None = None
) -> list[AlarmSpec]:
    """The alarms for ``thresholds`` (defaults when omitted), in a stable order; the prediction
    drift alarm too when the bundle's baseline has the ``prediction`` part.

    Alarms with ``rollback=True`` measure the new code (errors, crashes, load failures, latency,
    throttles) and gate gradual deployments; the rate and drift alarms measure the traffic and
    only notify.
    """
    t = thresholds or AlarmThresholds()
    counts: tuple[tuple[str, str, str, Scope, float | None], ...] = (
        (
            "errors",
            "The handler answered 5xx (a fault of ours, not bad input).",
            "Errors",
            "handler",
            t.errors,
        ),
        (
            "function-errors",
            "Invocations of the live alias failed (crash or timeout).",
            "Errors",
            "alias",
            t.function_errors,
        ),
        (
            "model-load-failures",
            "The model could not be loaded (missing, hash mismatch or S3 unreachable).",
            "ModelLoadFailures",
            "handler",
            t.model_load_failures,
        ),
        (
            "throttles",
            "Invocations of the live alias were throttled (raise the concurrency).",
            "Throttles",
            "alias",
            t.throttles,
        ),
    )
    specs = [
        _count_alarm(key, text, metric, scope, n)
        for key, text, metric, scope, n in counts
        if n is not None
    ]
    if t.latency_p99_ms is not None:
        specs.append(
            AlarmSpec(
                key="latency-p99",
                description="The p99 of the handler's TotalMs is above the threshold.",
                metrics=(MetricRef("m", "TotalMs", "handler", "p99"),),
                threshold=t.latency_p99_ms,
                comparison_operator="GreaterThanThreshold",
                period=60,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                rollback=True,
            )
        )
    if t.validation_error_rate_pct is not None:
        specs.append(
            _rate_alarm(
                "validation-error-rate",
                "Share of invocations rejected as invalid input (percent).",
                MetricRef("v", "ValidationErrors", "handler", "Sum"),
                _INVOCATIONS,
                t.validation_error_rate_pct,
                evaluation_periods=1,
            )
        )
    drift = (
        (
            "unknown-category",
            "UnknownCategory",
            t.unknown_category_pct,
            "a category unseen at build time",
        ),
        ("out-of-range", "OutOfRange", t.out_of_range_pct, "a value outside the sample's range"),
        ("missing-value", "MissingValue", t.missing_value_pct, "a missing value"),
    )
    for key, metric, pct, what in drift:
        if pct is not None:
            specs.append(
                _rate_alarm(
                    f"drift-{key}",
                    f"Drift: share of rows with {what} (percent).",
                    MetricRef("d", metric, "handler", "Sum"),
                    _ROWS,
                    pct,
                    evaluation_periods=3,
                )
            )
    if prediction is not None and t.prediction_psi is not None:
        specs.append(prediction_drift_alarm(prediction, t.prediction_psi))
    return specs


def namespace(ref: MetricRef, target: AlarmTarget) -> Any:
    """The CloudWatch namespace of ``ref`` on ``target``."""
    return target.namespace if ref.scope == "handler" else LAMBDA_NAMESPACE


def dimensions(ref: MetricRef, target: AlarmTarget) -> dict[str, Any]:
    """The dimensions of ``ref`` on ``target``, in CloudWatch's order."""
    if ref.scope == "function":
        return {"FunctionName": target.function_name}
    # The handler's serving set has the names and order of Lambda's alias dimensions.
    function_dim, resource_dim = SERVING_DIMENSIONS
    return {function_dim: target.function_name, resource_dim: target.resource()}


def _statistic(stat: str) -> dict[str, str]:
    """``Statistic`` for the standard statistics, ``ExtendedStatistic`` for percentiles."""
    return {"ExtendedStatistic": stat} if stat[:1] == "p" else {"Statistic": stat}


def _dimension_list(ref: MetricRef, target: AlarmTarget) -> list[dict[str, Any]]:
    return [{"Name": k, "Value": v} for k, v in dimensions(ref, target).items()]


def alarm_properties(
    spec: AlarmSpec,
    target: AlarmTarget,
    *,
    alarm_name: Any = None,
    actions: list[Any] | tuple[Any, ...] = (),
) -> dict[str, Any]:
    """``put_metric_alarm`` keyword arguments, which are also ``AWS::CloudWatch::Alarm`` properties.

    ``alarm_name`` defaults to ``spec.alarm_name(target.function_name)``; ``actions`` (SNS topic
    ARNs) receive both the ALARM and the OK transitions.
    """
    props: dict[str, Any] = {
        "AlarmName": alarm_name
        if alarm_name is not None
        else spec.alarm_name(target.function_name),
        "AlarmDescription": spec.description,
    }
    if spec.expression is None:
        (ref,) = spec.metrics
        props.update(
            Namespace=namespace(ref, target),
            MetricName=ref.metric_name,
            Dimensions=_dimension_list(ref, target),
            Period=spec.period,
            **_statistic(ref.stat),
        )
    else:
        props["Metrics"] = [
            {
                "Id": spec.result_id,
                "Expression": spec.expression,
                "Label": spec.key,
                "ReturnData": True,
            },
            *(
                {"Id": ident, "Expression": helper, "Label": ident, "ReturnData": False}
                for ident, helper in spec.helpers
            ),
            *(
                {
                    "Id": ref.id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace(ref, target),
                            "MetricName": ref.metric_name,
                            "Dimensions": _dimension_list(ref, target),
                        },
                        "Period": spec.period,
                        "Stat": ref.stat,
                    },
                    "ReturnData": False,
                }
                for ref in spec.metrics
            ),
        ]
    props.update(
        EvaluationPeriods=spec.evaluation_periods,
        DatapointsToAlarm=spec.datapoints_to_alarm,
        Threshold=spec.threshold,
        ComparisonOperator=spec.comparison_operator,
        TreatMissingData=spec.treat_missing_data,
    )
    if actions:
        props["AlarmActions"] = list(actions)
        props["OKActions"] = list(actions)
    return props
