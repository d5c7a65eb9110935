"""onnxruntime's post transforms of classifier and regressor scores (ml_common.h).

PROBIT uses onnxruntime's own approximation of the inverse error function, not an exact one,
so that the probabilities match the reference runtime rather than mathematics.
"""

from __future__ import annotations

import math
from typing import Callable

_SQRT2 = 1.4142135381698608  # float32(sqrt(2)), as onnxruntime's ml_sqrt2
_PI = 3.1415927410125732  # float32(pi)


def logistic(v: float) -> float:
    """1 / (1 + exp(-|v|)), mirrored for negative v (never overflows)."""
    e = 1.0 / (1.0 + math.exp(-abs(v)))
    return 1.0 - e if v < 0 else e


def _erf_inv(x: float) -> float:
    sign = -1.0 if x < 0 else 1.0
    x = (1 - x) * (1 + x)
    if x <= 0:  # log(0) is -inf and the result infinite; log of a negative is NaN
        return sign * math.inf if x == 0 else math.nan
    log = math.log(x)
    v = 2 / (_PI * 0.147) + 0.5 * log
    v2 = 1 / 0.147 * log
    return sign * math.sqrt(-v + math.sqrt(v * v - v2))


def probit(v: float) -> float:
    """sqrt(2) * erfinv(2v - 1) with onnxruntime's approximation."""
    return _SQRT2 * _erf_inv(2 * v - 1)


def softmax(values: list[float]) -> list[float]:
    """exp(v - max) / sum, as onnxruntime's ComputeSoftmax."""
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def softmax_zero(values: list[float]) -> list[float]:
    """Softmax that leaves (near-)zero scores at zero, as onnxruntime's ComputeSoftmaxZero."""
    top = max(values)
    scale = math.exp(-top)
    exps = [math.exp(v - top) if v > 1e-7 or v < -1e-7 else v * scale for v in values]
    total = sum(e for e, v in zip(exps, values) if v > 1e-7 or v < -1e-7)
    return [e / total for e in exps]


def _each(fn: Callable[[float], float]) -> Callable[[list[float]], list[float]]:
    return lambda values: [fn(v) for v in values]


VECTOR: dict[str, Callable[[list[float]], list[float]]] = {
    "NONE": list,
    "LOGISTIC": _each(logistic),
    "SOFTMAX": softmax,
    "SOFTMAX_ZERO": softmax_zero,
    "PROBIT": _each(probit),
}
"""A score vector of two or more classes -> its transformed scores."""


def second_class(score: float, mode: int, transform: str) -> list[float]:
    """One score expanded to two columns, by onnxruntime's ``add_second_class`` convention:
    0/1 (all weights positive) -> [1 - s, s]; 2/3 (mixed) -> [-s, s]; LOGISTIC applies the
    logistic to s first (0/1) or to both columns (2/3)."""
    if mode in (0, 1):
        if transform == "LOGISTIC":
            score = logistic(score)
        return [1.0 - score, score]
    if transform == "LOGISTIC":
        return [logistic(-score), logistic(score)]
    return [-score, score]
