"""Summaries of timing samples: the median and spread of a few runs, percentiles of many."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Median with its spread (quartiles, extremes) and the tail (p99) of a sample."""

    n: int
    median: float
    p25: float
    p75: float
    p99: float
    min: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            raise ValueError("no samples to summarise")
        q = np.percentile(np.asarray(samples, dtype=np.float64), [50, 25, 75, 99, 0, 100])
        return cls(len(samples), *(float(v) for v in q))

    @property
    def p50(self) -> float:
        """The median under the name the report's figures use (``warm_single_p50``)."""
        return self.median

    def to_json(self) -> dict[str, float | int]:
        values = {
            "median": self.median,
            "p25": self.p25,
            "p75": self.p75,
            "p99": self.p99,
            "min": self.min,
            "max": self.max,
        }
        return {"n": self.n, **{k: sig(v) for k, v in values.items()}}


def sig(value: float) -> float:
    """Four significant digits: what a timing on a shared machine can support."""
    return float(f"{value:.4g}")
