"""The population stability index, as every consumer of the drift sketches computes it.

``PSI = sum((a_i - e_i) * ln(a_i / e_i))`` over the bins, with ``e_i`` the baseline's share of
bin ``i`` (smoothed at build time, never zero) and ``a_i`` the observed share, shrunk toward the
baseline by :data:`PRIOR_ROWS_PER_BIN` pseudo-rows per bin::

    a_i = (c_i + W * e_i) / (n + W),    W = PRIOR_ROWS_PER_BIN * bins,  n = sum(c_i)

The prior keeps every ``a_i`` above zero with nothing but arithmetic (each query language has
that; not all have a ``max``), and makes a handful of requests read as "no evidence of drift"
(PSI near 0) rather than as noise: with no rows the index is exactly 0. The dashboard, the alarm,
the KQL and PromQL queries and ``slpack drift`` all evaluate this same expression.

Thresholds in common use (Siddiqi, *Credit Risk Scorecards*, 2006): below 0.1 no significant
change, 0.1 to 0.25 a moderate shift worth watching, above 0.25 a significant shift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

PRIOR_ROWS_PER_BIN = 0.5
WATCH = 0.1
SHIFTED = 0.25

Verdict = Literal["stable", "watch", "shifted", "no data"]


def prior_rows(bins: int) -> float:
    """``W``: the pseudo-rows, spread as the baseline, that every observed distribution gets."""
    return PRIOR_ROWS_PER_BIN * bins


def observed(counts: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """``a_i``: the observed shares shrunk toward the baseline."""
    weight = prior_rows(len(baseline))
    total = sum(counts) + weight
    return [(c + weight * e) / total for c, e in zip(counts, baseline)]


def psi(counts: Sequence[float], baseline: Sequence[float]) -> float:
    """The population stability index of ``counts`` against the baseline's ``shares``."""
    return sum(term(a, e) for a, e in zip(observed(counts, baseline), baseline))


def term(a: float, e: float) -> float:
    """One bin's part of the index (never negative)."""
    return (a - e) * math.log(a / e)


def verdict(value: float | None, rows: int) -> Verdict:
    if value is None or rows == 0:
        return "no data"
    if value > SHIFTED:
        return "shifted"
    return "watch" if value > WATCH else "stable"


def bin_labels(entry: Any) -> list[str]:
    """A readable name for every bin of a feature's (or the predictions') baseline entry."""
    kind = entry["kind"]
    if kind == "boolean":
        labels = ["false", "true"]
    elif kind in ("category", "class"):
        names = entry["categories"] if kind == "category" else entry["classes"]
        labels = [str(c) for c in names]
        if kind == "category" or entry.get("other"):
            labels.append("other")
    else:
        labels = _ranges(entry["edges"], "length " if kind == "length" else "")
    if entry.get("missing"):
        labels.append("missing")
    return labels


def _ranges(edges: Sequence[float], prefix: str) -> list[str]:
    if not edges:
        return [f"{prefix}any".strip()]
    shown = [f"{e:g}" for e in edges]
    middle = [f"{prefix}[{a}, {b})" for a, b in pairwise(shown)]
    return [f"{prefix}< {shown[0]}", *middle, f"{prefix}>= {shown[-1]}"]
