"""Probe what each feature tolerates, on both implementations, at build time.

Whether a request may send ``null`` for a feature, or a category never seen in training, is a
property of the fitted pipeline (an imputer, ``handle_unknown="ignore"``), not of the sample. So
it is measured: a few real rows are altered one feature at a time and run through scikit-learn;
what scikit-learn accepts is then run through the bundle's runtime and must agree. The handler
enforces the result per feature: a request the model cannot answer faithfully is a 400, not a
wrong answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from slpack.bundler.parity import OutputSpec, Predictions, compare, sklearn_predictions
from slpack.bundler.schema import Feature, Schema

if TYPE_CHECKING:
    from slpack.bundler.runtimes import LocalRuntime

PROBE_ROWS = 5
UNSEEN = "__slpack_unseen_category__"

OK, REFUSED, MISMATCH = "ok", "refused by scikit-learn", "the function disagrees with scikit-learn"


def probe_features(
    model: Any, schema: Schema, frame: Any, local: LocalRuntime, atol: float, rtol: float
) -> dict[str, dict[str, str]]:
    """Set ``nullable`` and ``unknown`` on each feature; return what each probe found."""
    complete = frame.dropna()
    base = (complete if len(complete) else frame).head(PROBE_ROWS).reset_index(drop=True)

    def probe(feature: Feature, value: Any) -> str:
        return _probe(model, schema, base, feature, value, local, atol, rtol)

    found: dict[str, dict[str, str]] = {}
    for feature in schema.features:
        outcome: dict[str, str] = {}
        if feature.dtype in ("float32", "float64", "string"):
            outcome["missing"] = probe(feature, np.nan)
            feature.nullable = outcome["missing"] == OK
        if feature.role == "categorical" and feature.unknown == "accept":
            outcome["unknown"] = probe(feature, _unseen(feature))
            feature.unknown = "accept" if outcome["unknown"] == OK else "reject"
        if outcome:
            found[feature.name] = outcome
    return found


def _unseen(feature: Feature) -> Any:
    if feature.dtype == "string":
        return UNSEEN
    return max(feature.categories or [0]) + 1_000_003


def _probe(
    model: Any,
    schema: Schema,
    base: Any,
    feature: Feature,
    value: Any,
    local: LocalRuntime,
    atol: float,
    rtol: float,
) -> str:
    rows = base.copy()
    if feature.dtype == "string":  # an all-NaN list would make the column float64
        rows[feature.name] = np.array([value] * len(rows), dtype=object)
    else:
        rows[feature.name] = [value] * len(rows)
    spec: OutputSpec = local.spec
    try:
        expected = sklearn_predictions(model, spec, schema.sklearn_rows(rows))
    except Exception:
        return REFUSED
    if not _finite(expected):
        return REFUSED
    try:
        got = local.predictions(rows)
    except Exception:
        return MISMATCH
    return OK if compare(expected, got, spec, atol, rtol).passed else MISMATCH


def _finite(p: Predictions) -> bool:
    arrays = [a for a in (p.probabilities, p.values) if a is not None]
    return all(np.isfinite(a).all() for a in arrays)
