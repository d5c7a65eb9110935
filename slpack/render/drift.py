"""Drift monitoring for the gcp and azure targets: ``terraform/drift.tf`` beside their own files.

The same measure as the AWS dashboard and alarm (docs/drift.md), in each platform's terms:

- Google Cloud: a log-based metric per prediction bin (distribution-valued: its sum is the bin's
  count, over the handler's structured entries) and an alerting policy whose PromQL computes the
  predictions' PSI over the last hour. Per-feature drift has no log-based form (one log entry
  counts into many bins), so it is ``slpack drift`` over ``gcloud logging read`` (README.md).
- Azure: a saved search in the Log Analytics workspace with every feature's and the predictions'
  PSI (KQL over the handler's traces), and a scheduled query rule alerting on the predictions'.

Both files only add resources, referring to the ones the target's own files declare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slpack.deployment import Deployment
from slpack.drift import queries
from slpack.render.templating import write
from slpack_handler.contract import DRIFT_PROPERTY

GCP_RESOURCE = "cloud_run_revision"  # the monitored resource of the handler's entries


def gcp_context(d: Deployment, name: str, entries: str) -> dict[str, Any] | None:
    """What gcp/terraform/drift.tf.j2 needs, or None (no prediction baseline, alarm off).

    ``entries`` is the Cloud Logging filter of the function's metric records.
    """
    part = d.drift.prediction if d.drift else None
    threshold = d.options.thresholds.prediction_psi
    if part is None or threshold is None:
        return None
    bins = [
        _log_metric(
            name,
            f"prediction_bin_{i}",
            field,
            f"Predictions in bin {i} ({label})",
            f"{entries} AND jsonPayload.metrics.{field}>0",
        )
        for i, (field, label) in enumerate(zip(queries.metric_names(part), part.labels))
    ]
    rows = _log_metric(
        name,
        "prediction_rows",
        "BatchSize",
        "Rows predicted and sketched (BatchSize of the records with a drift sketch)",
        f"{entries} AND jsonPayload.metrics.{DRIFT_PROPERTY}:*",
    )
    psi = queries.promql_psi([m["type"] for m in bins], rows["type"], part, GCP_RESOURCE)
    return {
        "metrics": [*bins, rows],
        "threshold": threshold,
        "query": f"({psi}) > {queries.number(threshold)}",
    }


def _log_metric(name: str, key: str, field: str, description: str, where: str) -> dict[str, str]:
    """A distribution-valued log-based metric of one numeric field of the metric records."""
    metric = f"slpack/{name}/{key}"
    return {
        "key": key,
        "name": metric,
        "type": f"logging.googleapis.com/user/{metric}",
        "field": field,
        "description": description,
        "filter": where,
    }


def azure_context(d: Deployment) -> dict[str, Any] | None:
    """What azure/terraform/drift.tf.j2 needs, or None (the bundle has no baseline)."""
    if d.drift is None:
        return None
    layout, threshold = d.drift, d.options.thresholds.prediction_psi
    alert = None
    if layout.prediction is not None and threshold is not None:
        query = queries.kql_psi(d.version, [layout.prediction], first=len(layout.features))
        alert = {"query": _heredoc(query + f"\n| where rows >= {queries.MIN_ROWS}")}
    return {
        "search": _heredoc(queries.kql_psi(d.version, layout.parts)),
        "alert": alert,
        "threshold": threshold,
        "window": f"PT{queries.WINDOW_S // 3600}H",
    }


def _heredoc(text: str) -> str:
    """Text for an HCL heredoc, which interpolates ``${`` and ``%{`` like a quoted string."""
    return text.replace("${", "$${").replace("%{", "%%{")


def write_drift(
    platform: str, context: dict[str, Any] | None, tf_dir: Path, **more: Any
) -> list[Path]:
    """``terraform/drift.tf`` of ``platform`` when there is something to watch."""
    if context is None:
        return []
    return [write(f"{platform}/terraform/drift.tf.j2", tf_dir / "drift.tf", **more, **context)]
