"""Elementwise kernels: arithmetic, comparisons, logic, Where, Clip, Cast.

Every kernel maps over flat lists at C speed (``map`` with ``operator`` functions) and falls back
to a per-element safe function only when Python raises where IEEE arithmetic would not (a
division by zero, the log of zero, an overflowing exp): onnxruntime answers those with
infinities and NaNs, and so does this runtime. Float32 results are rounded to float32 after
every operator, which is what onnxruntime stores between operators.
"""

from __future__ import annotations

import math
import operator
from itertools import compress
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor, as_int64, broadcast_shape, expand, f32

_INF = math.inf
_NAN = math.nan


def _is_int(dtype: str) -> bool:
    return dtype.startswith(("int", "uint"))


# -- unary ------------------------------------------------------------------------------------


def _safe_sqrt(v: float) -> float:
    return math.sqrt(v) if v >= 0 else _NAN


def _safe_exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return _INF


def _safe_log(v: float) -> float:
    if v > 0:
        return math.log(v)
    return -_INF if v == 0 else _NAN


def _safe_logs(data: list[float]) -> list[float]:
    """Log of every value, zeros and negatives included: the fallback of a tf-idf's sublinear
    term frequencies, whose vectors are mostly zeros, so only the non-zero values (found at C
    speed by ``compress``) take a step in Python."""
    out = [-_INF] * len(data)
    log = math.log
    for i in compress(range(len(data)), data):
        v = data[i]
        out[i] = log(v) if v > 0 else _NAN
    return out


def _safe_reciprocal(v: float) -> float:
    return 1.0 / v if v else math.copysign(_INF, v)


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = _safe_exp(v)
    return e / (1.0 + e)


def _relu(v: float) -> float:
    return v if v > 0 else v * 0.0 if v != v else 0.0


def _rounding(fn: Callable[[float], int]) -> Callable[[float], float]:
    def apply(v: float) -> float:
        return float(fn(v)) if v == v and v not in (_INF, -_INF) else v

    return apply


def _sign(v: float) -> float:
    return 1.0 if v > 0 else -1.0 if v < 0 else v * 0.0


def _softplus(v: float) -> float:
    return v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(_safe_exp(v))


_UNARY: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "Abs": (abs, abs),
    "Neg": (operator.neg, operator.neg),
    "Sqrt": (math.sqrt, _safe_sqrt),
    "Exp": (math.exp, _safe_exp),
    "Log": (math.log, _safe_log),
    "Reciprocal": (lambda v: 1.0 / v, _safe_reciprocal),
    "Sigmoid": (_sigmoid, _sigmoid),
    "Tanh": (math.tanh, math.tanh),
    "Relu": (_relu, _relu),
    "Erf": (math.erf, math.erf),
    "Floor": (_rounding(math.floor), _rounding(math.floor)),
    "Ceil": (_rounding(math.ceil), _rounding(math.ceil)),
    "Round": (_rounding(round), _rounding(round)),
    "Sign": (_sign, _sign),
    "Softplus": (_softplus, _softplus),
    "IsNaN": (lambda v: v != v, lambda v: v != v),
    "Not": (operator.not_, operator.not_),
}
_INT_UNARY: dict[str, Callable[[int], int]] = {
    "Abs": abs,
    "Neg": operator.neg,
    "Relu": lambda v: v if v > 0 else 0,
    "Sign": lambda v: (v > 0) - (v < 0),
}


def unary(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """One-input elementwise operators; ``params['dtype']`` is the input element type."""
    name = op.split(":")[1]
    dtype = params["dtype"]
    if name == "IsInf":
        pos, neg = params.get("detect_positive", 1), params.get("detect_negative", 1)
        flags = {_INF: bool(pos), -_INF: bool(neg)}

        def isinf(x: Tensor) -> Tensor:
            return [flags.get(v, False) for v in x[0]], x[1]

        return isinf
    if _is_int(dtype) and name in _INT_UNARY:
        int_fn = _INT_UNARY[name]
        return lambda x: (list(map(int_fn, x[0])), x[1])
    fast, safe = _UNARY[name]
    rounded = dtype == "float32" and name not in ("IsNaN", "Not")
    fallback = _safe_logs if name == "Log" else lambda data: list(map(safe, data))

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        try:
            out = list(map(fast, data))
        except (ValueError, OverflowError, ZeroDivisionError):
            out = fallback(data)
        return (f32(out) if rounded else out), shape

    return kernel


def identity(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Identity: the same tensor (values are never mutated in place, so no copy)."""
    return lambda x: x


# -- binary -----------------------------------------------------------------------------------


def _safe_div(a: float, b: float) -> float:
    if b:
        return a / b
    if a != a or a == 0:
        return _NAN
    return math.copysign(_INF, a) * math.copysign(1.0, b)


def _int_div(a: int, b: int) -> int:
    """C integer division (truncation toward zero), as onnxruntime divides int64 tensors."""
    if b == 0:
        raise ValueError("integer division by zero")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _safe_pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return _INF if a > 0 or (float(b).is_integer() and int(b) % 2 == 0) else -_INF
    except ValueError:  # 0 ** negative, negative ** fraction
        return _INF if a == 0 else _NAN


_BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "Add": (operator.add, operator.add),
    "Sub": (operator.sub, operator.sub),
    "Mul": (operator.mul, operator.mul),
    "Div": (operator.truediv, _safe_div),
    "Pow": (math.pow, _safe_pow),
    "Equal": (operator.eq, operator.eq),
    "Less": (operator.lt, operator.lt),
    "LessOrEqual": (operator.le, operator.le),
    "Greater": (operator.gt, operator.gt),
    "GreaterOrEqual": (operator.ge, operator.ge),
    "And": (operator.and_, operator.and_),
    "Or": (operator.or_, operator.or_),
    "Xor": (operator.xor, operator.xor),
    "Max": (max, max),
    "Min": (min, min),
}
_ARITHMETIC = ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean")


def _fmax(a: float, b: float) -> float:
    """Max of floats: NaN in either operand gives NaN."""
    if a != a or b != b:
        return _NAN
    return a if a >= b else b


def _fmin(a: float, b: float) -> float:
    """Min of floats: NaN in either operand gives NaN."""
    if a != a or b != b:
        return _NAN
    return a if a <= b else b


def _pair(a: Tensor, b: Tensor) -> tuple[list[Any], list[Any], tuple[int, ...]]:
    """Both operands' values at the broadcast shape."""
    ad, ash = a
    bd, bsh = b
    if ash == bsh:
        return ad, bd, ash
    shape = broadcast_shape(ash, bsh)
    return expand(ad, ash, shape), expand(bd, bsh, shape), shape


def _binary_fn(
    name: str, dtype: str
) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    if name == "Div" and _is_int(dtype):
        return _int_div, _int_div
    if name == "Pow" and _is_int(dtype):
        return operator.pow, operator.pow
    if name in ("Max", "Min") and not _is_int(dtype):
        fn = _fmax if name == "Max" else _fmin
        return fn, fn
    return _BINARY[name]


def binary(op: str, params: dict[str, Any]) -> Callable[[Tensor, Tensor], Tensor]:
    """Two-input elementwise operators with numpy broadcasting; ``params['dtype']`` is the
    element type of the first input."""
    name = op.split(":")[1]
    fast, safe = _binary_fn(name, params["dtype"])
    rounded = params["dtype"] == "float32" and name in _ARITHMETIC

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        x, y, shape = _pair(a, b)
        try:
            out = list(map(fast, x, y))
        except (ValueError, OverflowError, ZeroDivisionError):
            out = list(map(safe, x, y))
        return (f32(out) if rounded else out), shape

    return kernel


def variadic(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """Sum, Max, Min, Mean over any number of inputs, folded left to right as onnxruntime does."""
    name = op.split(":")[1]
    rounded = params["dtype"] == "float32"
    step = binary("ai.onnx:" + ("Add" if name in ("Sum", "Mean") else name), params)

    def kernel(*tensors: Tensor) -> Tensor:
        acc = tensors[0]
        for t in tensors[1:]:
            acc = step(acc, t)
        if name != "Mean":
            return acc
        mean = [v / len(tensors) for v in acc[0]]
        return (f32(mean) if rounded else mean), acc[1]

    return kernel


def where(op: str, params: dict[str, Any]) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Where(condition, x, y) with three-way broadcasting."""

    def kernel(c: Tensor, x: Tensor, y: Tensor) -> Tensor:
        shape = broadcast_shape(broadcast_shape(c[1], x[1]), y[1])
        cond = expand(c[0], c[1], shape)
        xs = expand(x[0], x[1], shape)
        out = list(expand(y[0], y[1], shape))
        for i in compress(range(len(cond)), cond):  # only where true: often few
            out[i] = xs[i]
        return out, shape

    return kernel


def clip(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """Clip(x, min, max); absent bounds do not clip, NaN passes through."""

    def kernel(x: Tensor, low: Any = None, high: Any = None) -> Tensor:
        data = x[0]
        if low is not None:
            lo = low[0][0]
            data = [lo if v < lo else v for v in data]
        if high is not None:
            hi = high[0][0]
            data = [hi if v > hi else v for v in data]
        return data, x[1]

    return kernel


# -- Cast -------------------------------------------------------------------------------------


def _to_float(values: list[Any]) -> list[float]:
    return [float(v) for v in values]


def _to_int(values: list[Any]) -> list[int]:
    return [as_int64(v) if type(v) is float else int(v) for v in values]


def _to_bool(values: list[Any]) -> list[bool]:
    return [bool(v) for v in values]


def _to_str(values: list[Any]) -> list[str]:
    return [str(int(v)) if type(v) is bool else str(v) for v in values]


def cast(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Cast between the element types the compiler accepts (it refuses float -> string, whose
    formatting is onnxruntime's own)."""
    source, target = params["from"], params["to"]
    if target == "float32":
        convert: Callable[[list[Any]], list[Any]] = lambda v: f32(_to_float(v))  # noqa: E731
    elif target == "float64":
        convert = _to_float
    elif _is_int(target):
        convert = _to_int
    elif target == "bool":
        convert = _to_bool
    else:
        convert = _to_str
    if source == target or (source == "float32" and target == "float64"):
        convert = list if source == target else _to_float
    return lambda x: (convert(x[0]), x[1])
