"""The CloudWatch dashboard of a deployed function, as ``DashboardBody`` JSON text.

Target-neutral: the partition, region and account appear as the marks below, which each target
replaces with its own expression (a CloudFormation ``Fn::Join`` part, a Terraform interpolation).
"""

from __future__ import annotations

import json
from typing import Any

from slpack.deployment import Deployment

_W, _H = 12, 6  # two widgets per row
PARTITION_MARK, REGION_MARK, ACCOUNT_MARK = "@@partition@@", "@@region@@", "@@account@@"


def dashboard_json(d: Deployment, indent: int | None = None) -> str:
    """The dashboard body with the marks in place of partition, region and account (compact by
    default)."""
    arns = [
        f"arn:{PARTITION_MARK}:cloudwatch:{REGION_MARK}:{ACCOUNT_MARK}:alarm:{spec.alarm_name(d.function_name)}"
        for spec in d.alarms()
    ]
    return json.dumps(
        dashboard_body(d, region=REGION_MARK, alarm_arns=arns),
        indent=indent,
        separators=None if indent else (",", ":"),
    )


def dashboard_body(d: Deployment, *, region: str, alarm_arns: list[str]) -> dict[str, Any]:
    """Latency percentiles, traffic and errors, cold starts and model loading, drift, capacity."""
    ns = d.options.metrics_namespace
    # The handler's serving dimension set, like the alarms: the live alias, whatever version
    # serves it (both during a canary), so the dashboard stays true after a rollback.
    alias = ["FunctionName", d.function_name, "Resource", d.alias_resource]
    function = ["FunctionName", d.function_name]

    def emf(metric: str, stat: str, label: str, **extra: Any) -> list[Any]:
        return [ns, metric, *alias, {"stat": stat, "label": label, **extra}]

    def lam(metric: str, dims: list[str], stat: str, label: str, **extra: Any) -> list[Any]:
        return ["AWS/Lambda", metric, *dims, {"stat": stat, "label": label, **extra}]

    def drift(metric: str, ident: str) -> list[list[Any]]:
        return [
            [
                {
                    "expression": f"100 * FILL({ident}, 0) / rows",
                    "label": f"{metric} (% of rows)",
                    "id": f"{ident}_rate",
                }
            ],
            emf(metric, "Sum", metric, id=ident, visible=False),
        ]

    panels: list[tuple[str, list[list[Any]], dict[str, Any]]] = [
        (
            "Latency (TotalMs, InferenceMs)",
            [
                emf("TotalMs", "p50", "total p50"),
                emf("TotalMs", "p90", "total p90"),
                emf("TotalMs", "p99", "total p99"),
                emf("InferenceMs", "p50", "inference p50"),
                emf("InferenceMs", "p99", "inference p99"),
            ],
            {"yAxis": {"left": {"label": "ms", "showUnits": False}}},
        ),
        (
            "Requests and errors",
            [
                lam("Invocations", alias, "Sum", "invocations (live)"),
                emf("Errors", "Sum", "5xx (handler)"),
                emf("ValidationErrors", "Sum", "4xx validation"),
                lam("Errors", alias, "Sum", "function errors"),
                lam("Throttles", alias, "Sum", "throttles"),
            ],
            {},
        ),
        (
            "Cold starts and model load",
            [
                emf("ColdStart", "Sum", "cold starts"),
                emf("ModelLoadMs", "Average", "model load ms (avg)", yAxis="right"),
                emf("ModelLoadMs", "Maximum", "model load ms (max)", yAxis="right"),
                emf("ModelLoadFailures", "Sum", "model load failures"),
            ],
            {},
        ),
        (
            "Input drift (% of rows)",
            [
                emf("BatchSize", "Sum", "rows", id="rows", visible=False),
                *drift("UnknownCategory", "unknown"),
                *drift("OutOfRange", "range"),
                *drift("MissingValue", "missing"),
            ],
            {"yAxis": {"left": {"min": 0, "label": "%", "showUnits": False}}},
        ),
        (
            "Batch size and cache",
            [
                emf("BatchSize", "Average", "rows per request (avg)"),
                emf("BatchSize", "Maximum", "rows per request (max)"),
                emf("CacheHits", "Sum", "cache hits", yAxis="right"),
            ],
            {},
        ),
        (
            "Concurrency and duration",
            [
                lam("ConcurrentExecutions", function, "Maximum", "concurrent executions"),
                lam("Duration", alias, "p99", "Lambda duration p99 (ms)", yAxis="right"),
                *(
                    [
                        lam(
                            "ProvisionedConcurrencySpilloverInvocations",
                            alias,
                            "Sum",
                            "provisioned spillover",
                        )
                    ]
                    if d.options.provisioned_concurrency
                    else []
                ),
            ],
            {},
        ),
    ]
    widgets: list[dict[str, Any]] = (
        [
            {
                "type": "alarm",
                "x": 0,
                "y": 0,
                "width": 2 * _W,
                "height": 3,
                "properties": {
                    "title": "Alarms",
                    "alarms": alarm_arns,
                    "sortBy": "stateUpdatedTimestamp",
                },
            }
        ]
        if alarm_arns
        else []
    )
    top = widgets[0]["height"] if widgets else 0
    for i, (title, metrics, extra) in enumerate(panels):
        widgets.append(
            {
                "type": "metric",
                "x": (i % 2) * _W,
                "y": top + (i // 2) * _H,
                "width": _W,
                "height": _H,
                "properties": {
                    "title": title,
                    "region": region,
                    "view": "timeSeries",
                    "stacked": False,
                    "period": 60,
                    "metrics": metrics,
                    **extra,
                },
            }
        )
    return {"widgets": widgets}
