"""Kernels that work along an axis: reductions, ArgMax/ArgMin, TopK, Softmax.

Each gathers the groups of values along one axis (contiguous runs when the axis is the last one,
the common case) and applies a C-speed builtin (``sum``, ``max``, ``sorted``) to each group.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Shape, Tensor, axis_of, blocks, f32, size


def _groups(data: list[Any], shape: Shape, axis: int) -> list[list[Any]]:
    """The values along ``axis`` for every other position, in row-major order of the rest."""
    outer, n, inner = blocks(shape, axis)
    if inner == 1:
        return [data[o * n : (o + 1) * n] for o in range(outer)]
    span = n * inner
    return [data[o * span + i : (o + 1) * span : inner] for o in range(outer) for i in range(inner)]


def _scatter(groups: list[list[Any]], shape: Shape, axis: int) -> list[Any]:
    """The inverse of :func:`_groups`: groups (possibly resized along ``axis``) back to flat."""
    _, _, inner = blocks(shape, axis)
    if inner == 1:
        return [v for g in groups for v in g]
    out: list[Any] = []
    for o in range(0, len(groups), inner):
        chunk = groups[o : o + inner]
        for k in range(len(chunk[0])):
            out.extend(g[k] for g in chunk)
    return out


def _lse(values: list[float]) -> float:
    top = max(values)
    if top in (math.inf, -math.inf) or top != top:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


_SQUARE = (lambda v: v * v, None)
_REDUCERS: dict[str, tuple[Any, Callable[[list[Any]], Any], Callable[[Any], Any] | None]] = {
    "ReduceSum": (None, sum, None),
    "ReduceMean": (None, sum, None),
    "ReduceMax": (None, max, None),
    "ReduceMin": (None, min, None),
    "ReduceProd": (None, math.prod, None),
    "ReduceSumSquare": (_SQUARE[0], sum, None),
    "ReduceL1": (abs, sum, None),
    "ReduceL2": (_SQUARE[0], sum, math.sqrt),
    "ReduceLogSumExp": (None, _lse, None),
}


def reduce(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """Reduce* over ``axes`` (all when absent, none with ``noop_with_empty_axes``)."""
    name = op.split(":")[1]
    pre, fn, post = _REDUCERS[name]
    keepdims = params.get("keepdims", 1)
    noop = params.get("noop_with_empty_axes", 0)
    fixed = params.get("axes")
    rounded = params["dtype"] == "float32"

    def kernel(x: Tensor, axes_in: Tensor | None = None) -> Tensor:
        data, shape = x
        rank = len(shape)
        axes = fixed if fixed is not None else (axes_in[0] if axes_in is not None else [])
        if not axes:
            if noop:
                return x
            axes = list(range(rank))
        picked = sorted({axis_of(a, rank) for a in axes}, reverse=True)
        values = list(map(pre, data)) if pre is not None else data
        dims = list(shape)
        for a in picked:
            values = [fn(g) for g in _groups(values, tuple(dims), a)]
            dims[a] = 1
        if name == "ReduceMean":
            count = size(tuple(shape[a] for a in picked))
            values = [v / count for v in values]
        if post is not None:
            values = list(map(post, values))
        out = tuple(dims) if keepdims else tuple(d for i, d in enumerate(dims) if i not in picked)
        return (f32(values) if rounded else values), out

    return kernel


def arg(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """ArgMax / ArgMin along ``axis``: the first extreme (the last with select_last_index)."""
    pick = max if op.endswith("ArgMax") else min
    axis = params.get("axis", 0)
    keepdims = params.get("keepdims", 1)
    last = params.get("select_last_index", 0)

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        a = axis_of(axis, len(shape))
        groups = _groups(data, shape, a)
        if last:
            out = [len(g) - 1 - g[::-1].index(pick(g)) for g in groups]
        else:
            out = [g.index(pick(g)) for g in groups]
        dims = shape[:a] + ((1,) if keepdims else ()) + shape[a + 1 :]
        return out, dims

    return kernel


def topk(op: str, params: dict[str, Any]) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """TopK(x, k): values and indices, ties broken by the lower index as onnxruntime does."""
    axis = params.get("axis", -1)
    largest = bool(params.get("largest", 1))

    def kernel(x: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        data, shape = x
        a = axis_of(axis, len(shape))
        count = k[0][0]
        if not 0 <= count <= shape[a]:
            raise ValueError(f"TopK: k={count} is out of range for an axis of length {shape[a]}")
        orders = [
            sorted(range(len(g)), key=g.__getitem__, reverse=largest)[:count]
            for g in _groups(data, shape, a)
        ]
        values = [[g[i] for i in order] for g, order in zip(_groups(data, shape, a), orders)]
        dims = (*shape[:a], count, *shape[a + 1 :])
        return (_scatter(values, shape, a), dims), (_scatter(orders, shape, a), dims)

    return kernel


def softmax(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Softmax / LogSoftmax along ``axis`` (opset 13), shifted by the maximum for stability."""
    axis = params.get("axis", -1)
    log = op.endswith("LogSoftmax")
    rounded = params["dtype"] == "float32"

    def one(g: list[float]) -> list[float]:
        top = max(g)
        exps = [math.exp(v - top) for v in g]
        total = sum(exps)
        if log:
            shift = math.log(total)
            return [v - top - shift for v in g]
        return [e / total for e in exps]

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        a = axis_of(axis, len(shape))
        out = _scatter([one(g) for g in _groups(data, shape, a)], shape, a)
        return (f32(out) if rounded else out), shape

    return kernel
