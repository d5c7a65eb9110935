"""ai.onnx.ml preprocessing kernels: Scaler, Imputer, Normalizer, Binarizer, LabelEncoder,
CategoryMapper, OneHotEncoder.

Vocabularies arrive as dicts built by the compiler, so an encoder costs one dict lookup per value.
"""

from __future__ import annotations

import math
from operator import mul, sub
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor, as_int64, f32


def _per_column(values: list[Any], data: list[Any]) -> list[Any]:
    """A per-column attribute repeated over the rows of ``data`` (one value: every column)."""
    if len(values) == 1:
        return values * len(data)
    return values * (len(data) // len(values)) if data else []


def scaler(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Scaler: ``(x - offset) * scale``, float32 out. onnxruntime subtracts and multiplies in
    float for float inputs (two roundings) and in double for double inputs (one)."""
    offset, scale = params["offset"], params["scale"]
    in_float32 = params["dtype"] != "float64"

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        width = shape[-1] if shape else 1
        if len(offset) not in (1, width) or len(scale) not in (1, width):
            raise ValueError("Scaler: the input's width does not match offset and scale")
        offs = offset if len(offset) == len(data) else _per_column(offset, data)
        scales = scale if len(scale) == len(data) else _per_column(scale, data)
        diff = map(sub, data, offs)
        return f32(list(map(mul, f32(list(diff)) if in_float32 else diff, scales))), shape

    return kernel


def imputer(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Imputer: replace the marker (NaN, or a number) by the per-column (or single) value."""
    values = params["values"]
    marker = params["replaced"]
    by_nan = isinstance(marker, float) and marker != marker

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        if len(values) not in (1, shape[-1]):
            raise ValueError("Imputer: the input's width does not match the imputed values")
        fills = _per_column(values, data)
        if by_nan:
            return [f if v != v else v for v, f in zip(data, fills)], shape
        return [f if v == marker else v for v, f in zip(data, fills)], shape

    return kernel


def _norm(kind: str, row: list[float]) -> list[float]:
    if kind == "MAX":
        top = max(row) if row else 0.0
        return [v / top for v in row] if top else list(row)
    if kind == "L1":
        total = sum(map(abs, row))
        return [v / total for v in row] if total else list(row)
    total = sum(map(mul, row, row))
    if not total:
        return list(row)
    sqrt = math.sqrt
    return [  # zeros (most of a tf-idf vector) stay zero without the arithmetic
        (math.copysign(sqrt(v * v / total), v) if v < 0 else sqrt(v * v / total)) if v else 0.0
        for v in row
    ]


def normalizer(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Normalizer (MAX, L1, L2) of each row, float32 out."""
    kind = params["norm"]

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        width = shape[-1] if shape else 1
        values = list(map(float, data))
        if len(values) == width:
            return f32(_norm(kind, values)), shape
        rows = len(data) // width if width else 0
        out = [v for r in range(rows) for v in _norm(kind, values[r * width : (r + 1) * width])]
        return f32(out), shape

    return kernel


def binarizer(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Binarizer: 1 where ``x > threshold``, else 0, in the input's type (NaN is an error)."""
    threshold = params["threshold"]

    def kernel(x: Tensor) -> Tensor:
        data = x[0]
        if any(v != v for v in data):
            raise ValueError("Binarizer: the input holds NaN, which onnxruntime refuses")
        return [1.0 if v > threshold else 0.0 for v in data], x[1]

    return kernel


def lookup(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """LabelEncoder and CategoryMapper: a dict lookup with a default (NaN finds no key)."""
    table = dict(zip(params["keys"], params["values"]))
    default = params["default"]
    get = table.get

    def kernel(x: Tensor) -> Tensor:
        return [get(v, default) for v in x[0]], x[1]

    return kernel


def one_hot(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """OneHotEncoder: one float column per category, after the input's own axes."""
    cats = params["categories"]
    index = {c: i for i, c in enumerate(cats)}
    width = len(cats)
    zeros = params.get("zeros", 1)
    numeric = params["numeric"]

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        keys = [as_int64(v) if type(v) is float else v for v in data] if numeric else data
        out = [0.0] * (len(keys) * width)
        for i, key in enumerate(keys):
            j = index.get(key)
            if j is not None:
                out[i * width + j] = 1.0
            elif not zeros:
                raise ValueError(f"OneHotEncoder: the category {key!r} is unknown")
        return out, (*shape, width)

    return kernel
