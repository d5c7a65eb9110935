"""The CloudWatch dashboard of a deployed function, as ``DashboardBody`` JSON text.

Target-neutral: the partition, region and account appear as the marks below, which each target
replaces with its own expression (a CloudFormation ``Fn::Join`` part, a Terraform interpolation).

A bundle with a drift baseline adds its drift section (docs/drift.md): the prediction drift
alarm's index and the prediction bins per hour (metric math), and one Logs Insights table per
feature and for the predictions, whose index covers the dashboard's time range.
"""

from __future__ import annotations

import json
from typing import Any

from slpack.deployment import Deployment
from slpack.drift import queries
from slpack.drift.psi import SHIFTED, WATCH
from slpack.drift.sketches import Layout

_W, _H = 12, 6  # two widgets per row
MAX_FEATURE_TABLES = 40  # per-feature drift tables; slpack drift covers every feature
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
    if d.drift is not None and d.drift.prediction is not None:
        panels += _prediction_panels(d, d.drift, emf)
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
    if d.drift is not None:
        widgets += _drift_tables(d, d.drift, region, top + (len(panels) + 1) // 2 * _H)
    return {"widgets": widgets}


def _prediction_panels(d: Deployment, layout: Layout, emf: Any) -> list[Any]:
    """The prediction drift alarm's index, and each prediction bin's share, per hour."""
    part = layout.prediction
    assert part is not None
    total, expression = queries.metric_math(part)
    ids = queries.metric_ids(part)
    bins = [
        emf(name, "Sum", label, id=ident, visible=False)
        for ident, name, label in zip(ids, queries.metric_names(part), part.labels)
    ]
    hourly = {"period": queries.WINDOW_S}
    threshold = d.options.thresholds.prediction_psi
    lines = [{"value": v, "label": f"PSI {v:g}"} for v in (WATCH, SHIFTED, threshold) if v]
    psi_axis = {"left": {"min": 0, "label": "PSI", "showUnits": False}}
    return [
        (
            "Prediction drift (PSI per hour, vs the build's baseline)",
            [
                [{"expression": expression, "label": "PSI of the predictions", "id": "psi"}],
                [{"expression": total, "label": "predictions", "id": "t", "visible": False}],
                *bins,
            ],
            {**hourly, "yAxis": psi_axis, "annotations": {"horizontal": _unique(lines)}},
        ),
        (
            "Predictions per bin (% per hour; baseline in slpack.json)",
            [
                *(
                    [{"expression": f"100 * FILL({i}, 0) / t", "label": label, "id": f"p{i}"}]
                    for i, label in zip(ids, part.labels)
                ),
                [{"expression": total, "label": "predictions", "id": "t", "visible": False}],
                *bins,
            ],
            {**hourly, "stacked": True, "yAxis": {"left": {"min": 0, "max": 100}}},
        ),
    ]


def _unique(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[float, dict[str, Any]] = {}
    for line in lines:
        seen.setdefault(line["value"], line)
    return list(seen.values())


def _drift_tables(d: Deployment, layout: Layout, region: str, top: int) -> list[dict[str, Any]]:
    """A note on reading them, then a Logs Insights table per feature and for the predictions:
    rows, PSI and each bin's observed share over the dashboard's time range."""
    parts = list(enumerate(layout.features))[:MAX_FEATURE_TABLES]
    if layout.prediction is not None:
        parts.append((len(layout.features), layout.prediction))
    more = len(layout.features) - MAX_FEATURE_TABLES
    left_out = (
        f" {more} more features are left out here; slpack drift covers them." if more > 0 else ""
    )
    note = (
        "## Input and prediction drift\n"
        f"Each table compares the requests in the time range with the build's baseline "
        f"({layout.source}, {layout.rows} rows): the population stability index (PSI; below "
        f"{WATCH} stable, above {SHIFTED} a significant shift) and the observed % of each bin. "
        "`slpack drift BUNDLE --logs FILE` prints the same with the baseline's shares "
        "(docs/drift.md)." + left_out
    )
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": top,
            "width": 2 * _W,
            "height": 2,
            "properties": {"markdown": note},
        }
    ]
    for row, (position, part) in enumerate(parts):
        what = "predictions" if part is layout.prediction else part.name
        widgets.append(
            {
                "type": "log",
                "x": 0,
                "y": top + 2 + 3 * row,
                "width": 2 * _W,
                "height": 3,
                "properties": {
                    "title": f"Drift: {what} ({part.kind}; PSI vs baseline)",
                    "region": region,
                    "view": "table",
                    "query": queries.insights_query(d.log_group_name, d.version, position, part),
                },
            }
        )
    return widgets
