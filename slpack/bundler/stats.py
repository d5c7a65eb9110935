"""Per-feature training statistics from the sample: the reference for drift signals.

The handler counts, per request, values outside the range seen here (OutOfRange), categories
not seen here (UnknownCategory) and missing values (MissingValue); the dashboards plot them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slpack.bundler.schema import Schema

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_CATEGORIES = 1000


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
        if feature.role == "text":
            lengths = present.astype(str).str.len()
            entry["mean_length"] = _num(lengths.mean()) if len(lengths) else 0.0
            entry["max_length"] = int(lengths.max()) if len(lengths) else 0
        elif feature.role == "categorical":
            counts = present.value_counts().head(TOP_CATEGORIES)
            entry["categories"] = {str(k): int(v) for k, v in counts.items()}
        elif feature.role == "boolean":
            entry["true_share"] = _num(present.astype(bool).mean()) if len(present) else 0.0
        elif len(present):
            values = present.to_numpy(dtype=np.float64)
            entry.update(
                min=_num(values.min()),
                max=_num(values.max()),
                mean=_num(values.mean()),
                std=_num(values.std()),
                quantiles={
                    str(q): _num(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))
                },
            )
        stats[feature.name] = entry
    return stats


def _num(value: Any) -> float:
    """A float that survives JSON round trips and reads well (12 significant digits)."""
    return float(f"{float(value):.12g}")
