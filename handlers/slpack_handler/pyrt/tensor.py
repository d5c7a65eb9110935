"""Tensors as ``(flat list, shape tuple)`` pairs, and the helpers every kernel shares.

A flat row-major list with its shape is the cheapest form a pure-Python kernel can work on:
elementwise ops are one ``map`` over two lists, reshapes cost nothing, and a [1, k] row (the
common single-row request) is a plain list of k numbers. Kernels receive and return these pairs;
:func:`nested` turns one into what ``numpy_array.tolist()`` gives, the form ``Program.run``
answers in.
"""

from __future__ import annotations

import math
from array import array
from itertools import product
from typing import Any

Shape = tuple[int, ...]
Tensor = tuple[list[Any], Shape]

INT64_MIN = -(2**63)
_INF = math.inf


def size(shape: Shape) -> int:
    """Number of elements of a tensor of ``shape``."""
    n = 1
    for d in shape:
        n *= d
    return n


def f32(values: list[float]) -> list[float]:
    """Round every value to float32, as onnxruntime stores a float tensor.

    ``array('f')`` rounds to nearest-even in C; it refuses values that round to infinity,
    which onnxruntime keeps as infinities, so those take the slow path.
    """
    try:
        return array("f", values).tolist()
    except OverflowError:
        return [_f32_one(v) for v in values]


def _f32_one(value: float) -> float:
    try:
        return array("f", (value,))[0]
    except OverflowError:
        return math.copysign(_INF, value)


def nested(tensor: Tensor) -> Any:
    """The tensor as nested lists, exactly as ``numpy.ndarray.tolist()`` shapes it."""
    data, shape = tensor
    rank = len(shape)
    if rank == 0:
        return data[0]
    if rank == 1:
        return list(data)
    if rank == 2:
        width = shape[1]
        return (
            [data[i : i + width] for i in range(0, shape[0] * width, width)]
            if width
            else [[] for _ in range(shape[0])]
        )
    inner = size(shape[1:])
    return [nested((data[i * inner : (i + 1) * inner], shape[1:])) for i in range(shape[0])]


def broadcast_shape(a: Shape, b: Shape) -> Shape:
    """numpy's broadcasting rule; a ValueError names both shapes when they do not fit."""
    if a == b:
        return a
    rank = max(len(a), len(b))
    pa = (1,) * (rank - len(a)) + a
    pb = (1,) * (rank - len(b)) + b
    out = []
    for x, y in zip(pa, pb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError(f"shapes {list(a)} and {list(b)} cannot be broadcast together")
    return tuple(out)


def expand(data: list[Any], shape: Shape, out: Shape) -> list[Any]:
    """``data`` of ``shape`` repeated to fill ``out`` (which it broadcasts to)."""
    if shape == out:
        return data
    total = size(out)
    if len(data) == 1:
        return data * total
    padded = (1,) * (len(out) - len(shape)) + shape
    # Leading ones only (a row vector against a matrix): tile the whole block.
    lead = 0
    while lead < len(out) and padded[lead] == 1 and out[lead] != 1:
        lead += 1
    if padded[lead:] == out[lead:]:
        return data * (total // len(data))
    # Trailing ones only (a column against a matrix): repeat each element.
    tail = len(out)
    while tail > 0 and padded[tail - 1] == 1 and out[tail - 1] != 1:
        tail -= 1
    if padded[:tail] == out[:tail]:
        reps = total // len(data)
        return [v for v in data for _ in range(reps)]
    strides = _strides(padded)
    index = [
        sum(i * s for i, s, d in zip(pos, strides, padded) if d != 1)
        for pos in product(*(range(d) for d in out))
    ]
    return [data[i] for i in index]


def _strides(shape: Shape) -> list[int]:
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    return strides


def axis_of(axis: int, rank: int) -> int:
    """A possibly negative axis as an index into a shape of ``rank`` dimensions."""
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} is out of range for a tensor of rank {rank}")
    return axis + rank if axis < 0 else axis


def blocks(shape: Shape, axis: int) -> tuple[int, int, int]:
    """(outer, length of ``axis``, inner) sizes: element (o, k, i) is at (o*n + k)*inner + i."""
    return size(shape[:axis]), shape[axis], size(shape[axis + 1 :])


def as_int64(value: float) -> int:
    """float -> int64 as the x86 conversion onnxruntime runs: truncation, NaN and overflow to the
    minimum."""
    if value != value or value in (_INF, -_INF):
        return INT64_MIN
    n = int(value)
    return n if -(2**63) <= n < 2**63 else INT64_MIN
