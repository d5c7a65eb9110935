"""Per-feature aggregates of the sample: the reference for drift signals, and an example row.

The handler counts, per request, values outside the range seen here (OutOfRange), categories
the model does not know (UnknownCategory) and missing values (MissingValue); the dashboards plot
them. Only aggregates are kept: no sample value goes into the manifest except the categories the
fitted model itself holds, since the manifest ships in every copy of the function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slpack.bundler.schema import Feature, Schema

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def feature_stats(schema: Schema, frame: Any) -> dict[str, dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = {}
    for feature in schema.features:
        column = frame[feature.name]
        count = len(column)
        missing = float(column.isna().mean()) if count else 0.0
        entry: dict[str, Any] = {
            "role": feature.role,
            "count": count,
            "missing_share": round(missing, 6),
        }
        present = column.dropna()
        if len(present):
            entry.update(_ROLE_STATS[feature.role](feature, present))
        stats[feature.name] = entry
    return stats


def _text_stats(feature: Feature, present: Any) -> dict[str, Any]:
    lengths = present.astype(str).str.len()
    return {"mean_length": _num(lengths.mean()), "max_length": int(lengths.max())}


def _categorical_stats(feature: Feature, present: Any) -> dict[str, Any]:
    if not feature.categories:
        return {}
    counts = present.value_counts()
    known = {str(c): int(counts.get(c, 0)) for c in feature.categories}
    return {"categories": known, "other": int(len(present) - sum(known.values()))}


def _boolean_stats(feature: Feature, present: Any) -> dict[str, Any]:
    return {"true_share": _num(present.astype(bool).mean())}


def _numeric_stats(feature: Feature, present: Any) -> dict[str, Any]:
    values = present.to_numpy(dtype=np.float64)
    return {
        "min": _num(values.min()),
        "max": _num(values.max()),
        "mean": _num(values.mean()),
        "std": _num(values.std()),
        "quantiles": {str(q): _num(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))},
    }


_ROLE_STATS = {
    "text": _text_stats,
    "categorical": _categorical_stats,
    "boolean": _boolean_stats,
    "numeric": _numeric_stats,
}


def example_row(schema: Schema, frame: Any) -> dict[str, Any]:
    """One synthetic request row made of aggregates: each number's median, each category's most
    common known value, the commoner boolean. It warms the model up at load (and primes a
    SnapStart snapshot) and is the example request a build writes; it is no sample row."""
    return {f.name: _typical(f, frame[f.name].dropna()) for f in schema.features}


def _typical(feature: Feature, present: Any) -> Any:
    if feature.role == "text":
        return "example"
    if not len(present):
        return None if feature.nullable else _neutral(feature)
    if feature.type == "boolean":
        return bool(present.astype(bool).mean() >= 0.5)
    if feature.type == "string" or feature.role == "categorical":
        known = present[present.isin(feature.categories)] if feature.categories else present[:0]
        if not len(known):
            return _neutral(feature)
        return _json(known.value_counts().idxmax())
    median = float(np.median(present.to_numpy(dtype=np.float64)))
    return round(median) if feature.type == "integer" else _num(median)


def _neutral(feature: Feature) -> Any:
    if feature.categories:
        return _json(sorted(feature.categories, key=str)[0])
    return {"number": 0.0, "integer": 0, "boolean": False, "string": ""}[feature.type]


def _json(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _num(value: Any) -> float:
    """A float that survives JSON round trips and reads well (12 significant digits)."""
    return float(f"{float(value):.12g}")
