"""What the benchmark sends: a single row and a batch, as events and as bare session feeds.

Rows come from a sample file when one is given (complete rows only: the benchmark measures
speed, not missing-value handling), else they are made from the manifest's training statistics
(numbers cycling through the recorded quantiles, categories through the known ones). Both
functions get the same Function URL event (JSON body in, JSON body out); the floor gets the
tensors the manifest says the handler feeds, built once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slpack.serve.events import HttpRequest, function_url_event

SINGLE, BATCH = "single", "batch"
PLACEHOLDER_WORDS = ("please", "help", "with", "my", "account", "payment", "today", "thanks")


@dataclass(frozen=True)
class Workload:
    """The rows of each input (``single``, ``batch``) and the matching events and feeds."""

    rows: dict[str, list[dict[str, Any]]]
    events: dict[str, dict[str, Any]]
    feeds: dict[str, dict[str, dict[str, Any]]]


def make_workload(manifest: dict[str, Any], sample: Any | None, batch_size: int) -> Workload:
    """``sample`` is a DataFrame of rows (or None to make rows from the manifest)."""
    rows = (
        _sample_rows(manifest, sample, batch_size)
        if sample is not None
        else _made_rows(manifest, batch_size)
    )
    inputs = {SINGLE: rows[:1], BATCH: rows}
    return Workload(
        rows=inputs,
        events={name: _event(chunk, name) for name, chunk in inputs.items()},
        feeds={name: _feeds(manifest["input"], chunk) for name, chunk in inputs.items()},
    )


def _event(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    request = HttpRequest(
        method="POST",
        path="/predict",
        headers=(("content-type", "application/json"),),
        body=json.dumps({"instances": rows}).encode(),
    )
    return function_url_event(request, request_id=f"bench-{name}")


def _sample_rows(manifest: dict[str, Any], sample: Any, batch_size: int) -> list[dict[str, Any]]:
    from slpack.errors import SlpackError

    names = [f["name"] for f in manifest["input"]["features"]]
    missing = [n for n in names if n not in sample.columns]
    if missing:
        raise SlpackError(
            f"the sample lacks the model's column(s) {', '.join(missing[:5])}; give the "
            "sample the bundle was built from."
        )
    complete = sample[names].dropna()
    if complete.empty:
        raise SlpackError(
            "every sample row has a missing value; give a sample with some complete rows."
        )
    records = complete.to_dict("records")
    typed = [
        {f["name"]: _typed(f, r[f["name"]]) for f in manifest["input"]["features"]} for r in records
    ]
    return list(itertools.islice(itertools.cycle(typed), batch_size))


def _made_rows(manifest: dict[str, Any], batch_size: int) -> list[dict[str, Any]]:
    columns = {
        f["name"]: _values(f, manifest.get("stats", {}).get(f["name"], {}))
        for f in manifest["input"]["features"]
    }
    return [{name: next(values) for name, values in columns.items()} for _ in range(batch_size)]


def _values(feature: dict[str, Any], stats: dict[str, Any]) -> Iterator[Any]:
    """Plausible values of one feature, from its training statistics."""
    if feature["role"] == "text":
        words = max(1, int(stats.get("mean_length", 40)) // 6)
        return itertools.cycle(
            [
                " ".join(itertools.islice(itertools.cycle(PLACEHOLDER_WORDS), i, i + words))
                for i in range(len(PLACEHOLDER_WORDS))
            ]
        )
    if feature["type"] == "boolean":
        return itertools.cycle([True, False])
    if feature["type"] == "string":
        categories = feature.get("categories") or list(stats.get("categories", {})) or ["a"]
        return itertools.cycle(categories)
    quantiles = list(stats.get("quantiles", {}).values()) or [0.0]
    return itertools.cycle([_typed(feature, q) for q in quantiles])


def _typed(feature: dict[str, Any], value: Any) -> Any:
    """A JSON value of the feature's request type."""
    kind = feature["type"]
    if kind == "integer":
        return round(float(value))
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


def _feeds(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tensors of ``rows`` as the manifest lays them out, in a JSON form the driver rebuilds."""
    features = spec["features"]
    if spec["layout"] == "tensor":
        tensor = spec["tensor"]
        values = [row[f["name"]] for row in rows for f in features]
        return {
            tensor["name"]: {
                "dtype": tensor["dtype"],
                "shape": [len(rows), len(features)],
                "values": values,
            }
        }
    return {
        f["onnx_name"] or f["name"]: {
            "dtype": f["dtype"],
            "shape": [len(rows), 1],
            "values": [row[f["name"]] for row in rows],
        }
        for f in features
    }
