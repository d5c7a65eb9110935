"""The population stability index in each platform's query language, generated from a baseline.

Every query evaluates :func:`slpack.drift.psi.psi` (the same prior, the same shares), over the
counts each platform can reach:

- CloudWatch Logs Insights (the dashboard's per-feature widgets): one regular expression reads a
  feature's token of the ``drift`` property, ``stats`` sums the bins over the dashboard's window;
- CloudWatch metric math (the prediction drift alarm and its graph): the ``PredictionBin<i>``
  metrics of the serving dimension set;
- KQL (Azure: a saved search over every feature, and the alert): the ``drift`` property of the
  traces in the Log Analytics workspace;
- PromQL (Google Cloud's alerting policy): log-based metrics of the prediction bins.

tests/test_drift_render.py evaluates each of them on numbers and checks it against ``psi()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from slpack.drift.psi import PRIOR_ROWS_PER_BIN, prior_rows
from slpack.drift.sketches import Part
from slpack_handler.contract import DRIFT_PROPERTY, PREDICTION_BIN

MIN_ROWS = 100  # the alarms judge a window only from this many predictions on
WINDOW_S = 3600  # the alarms' window: an hour of traffic


def number(x: float) -> str:
    """A constant every one of the languages reads: fixed point, no exponent."""
    text = f"{x:.8f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def psi_expression(
    count: Callable[[int], str], total: str, shares: Sequence[float], log: str
) -> str:
    """``sum((a_i - e_i) * log(a_i / e_i))`` with ``a_i = (c_i + W e_i) / (n + W)``, where
    ``count(i)`` is bin ``i``'s count and ``total`` the rows, in the target language."""
    weight = prior_rows(len(shares))
    terms = []
    for i, e in enumerate(shares):
        a = f"({count(i)} + {number(weight * e)}) / ({total} + {number(weight)})"
        terms.append(f"({a} - {number(e)}) * {log}({a} / {number(e)})")
    return " + ".join(terms)


# -- CloudWatch Logs Insights -----------------------------------------------------------------


def insights_query(log_group: str, version: str, position: int, part: Part) -> str:
    """A Logs Insights query: rows, PSI and the observed share of every bin of the part at
    ``position`` in the sketch, over the log group's records of model ``version``."""
    bins = range(len(part.shares))
    skip = f'(?:[^ "]+ ){{{position}}}' if position else ""
    groups = ",".join(rf"(?<c{i}>\d+)" for i in bins)
    expression = psi_expression(lambda i: f"sum(c{i})", "sum(rows)", part.shares, "log")
    shares = ", ".join(
        f"100 * sum(c{i}) / sum(rows) as {_alias(i, label)}" for i, label in zip(bins, part.labels)
    )
    return "\n".join(
        [
            f"SOURCE {_string(log_group)}",
            f"| filter @message like {_string(_member('ModelVersion', version))}",
            f'| parse @message /"{DRIFT_PROPERTY}":"{skip}{groups}[ "]/',
            f"| fields {' + '.join(f'c{i}' for i in bins)} as rows",
            f"| stats sum(rows) as total_rows, {expression} as psi, {shares}",
        ]
    )


def _member(key: str, value: str) -> str:
    """``"key":"value"`` as the handler's compact JSON writes it."""
    return json.dumps({key: value}, separators=(",", ":"))[1:-1]


def _string(text: str) -> str:
    """A single-quoted Logs Insights string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _alias(i: int, label: str) -> str:
    """A result column name for a bin: ``pct3_37_to_44`` for ``[37, 44)``."""
    slug = label.replace("< ", "lt ").replace(">= ", "ge ").replace(", ", " to ")
    slug = re.sub(r"[^A-Za-z0-9]+", "_", slug.replace(".", "p")).strip("_")[:24]
    return f"pct{i}_{slug}" if slug else f"pct{i}"


# -- CloudWatch metric math -------------------------------------------------------------------


def metric_ids(part: Part) -> list[str]:
    """The ids of the prediction bin metrics in a metric-math request: b0, b1, ..."""
    return [f"b{i}" for i in range(len(part.shares))]


def metric_names(part: Part) -> list[str]:
    return [f"{PREDICTION_BIN}{i}" for i in range(len(part.shares))]


def metric_math(part: Part) -> tuple[str, str]:
    """``(total, psi)``: the expression of the predictions in the window (id ``t``), and the
    index, 0 until the window holds :data:`MIN_ROWS` predictions (ids as :func:`metric_ids`)."""
    ids = metric_ids(part)
    total = " + ".join(f"FILL({b}, 0)" for b in ids)
    expression = psi_expression(lambda i: f"FILL({ids[i]}, 0)", "t", part.shares, "LOG")
    return total, f"IF(t >= {MIN_ROWS}, {expression}, 0)"


# -- KQL (Azure Monitor Logs) -----------------------------------------------------------------


def kql_psi(version: str, parts: Sequence[Part], first: int = 0) -> str:
    """A KQL query over the workspace's ``AppTraces``: rows and PSI per part, the parts being the
    sketch's tokens from ``first`` on (every feature and the predictions, or the predictions
    alone), with the name of each."""
    names = json.dumps([p.name for p in parts])
    shares = json.dumps([p.shares for p in parts])
    return "\n".join(
        [
            f"let names = dynamic({names});",
            f"let shares = dynamic({shares});",
            "AppTraces",
            '| where Message startswith "{\\"metrics\\":"',
            "| extend m = parse_json(Message).metrics",
            f"| where tostring(m.ModelVersion) == {json.dumps(version)}",
            f'| extend sketch = split(tostring(m.{DRIFT_PROPERTY}), " ")',
            "| mv-expand with_itemindex = part token = sketch to typeof(string)",
            *([f"| extend part = part - {first}"] if first else []),
            f"| where part >= 0 and part < {len(parts)}",
            '| mv-expand with_itemindex = i k = split(token, ",") to typeof(string)',
            "| summarize n = sum(tolong(k)) by part, i",
            "| summarize rows = sum(n), counts = make_bag(bag_pack(tostring(i), n)) by part",
            "| extend e = shares[part]",
            f"| extend weight = {PRIOR_ROWS_PER_BIN} * array_length(e)",
            "| mv-expand with_itemindex = i e to typeof(real)",
            "| extend c = coalesce(todouble(counts[tostring(i)]), 0.0)",
            "| extend a = (c + weight * e) / (rows + weight)",
            "| summarize psi = sum((a - e) * log(a / e)), rows = max(rows) by part",
            "| project name = tostring(names[part]), rows, psi",
            "| order by psi desc",
        ]
    )


# -- PromQL (Google Cloud Monitoring) ---------------------------------------------------------


def promql_metric(metric_type: str) -> str:
    """A Cloud Monitoring metric type in PromQL: the first ``/`` becomes ``:``, every other
    special character ``_`` (Cloud Monitoring's mapping rules)."""
    domain, _, path = metric_type.partition("/")
    return re.sub(r"[^A-Za-z0-9_]", "_", domain) + ":" + re.sub(r"[^A-Za-z0-9_]", "_", path)


def promql_psi(bins: Sequence[str], rows: str, part: Part, resource: str) -> str:
    """The predictions' PSI over the last :data:`WINDOW_S` seconds, empty (no alert) until the
    window holds :data:`MIN_ROWS` predictions, from distribution-valued log-based metrics (their
    ``_sum`` is the count): one per bin (metric types ``bins``) and one of the rows (``rows``), so
    the total is one term rather than a sum repeated in every bin's."""
    window = f"{WINDOW_S // 3600}h"

    def count(metric_type: str) -> str:
        selector = f'{promql_metric(metric_type)}_sum{{monitored_resource="{resource}"}}'
        return f"(sum(increase({selector}[{window}])) or vector(0))"

    total = count(rows)
    expression = psi_expression(lambda i: count(bins[i]), total, part.shares, "ln")
    return f"({expression}) and on() ({total} >= {MIN_ROWS})"
