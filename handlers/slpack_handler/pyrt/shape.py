"""Layout kernels: reshapes, Concat, Gather, Slice, Transpose, Shape, ArrayFeatureExtractor.

With flat row-major storage a reshape only changes the shape tuple; the kernels that move values
(Concat, Gather, Slice, Transpose) slice whole contiguous runs where they can.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Shape, Tensor, axis_of, blocks, size


def _reshape_to(shape: Shape, target: list[int]) -> Shape:
    """Reshape's target with 0 (copy the input's dimension) and -1 (infer) resolved."""
    dims = [shape[i] if d == 0 else d for i, d in enumerate(target)]
    if -1 in dims:
        known = size(tuple(d for d in dims if d != -1))
        total = size(shape)
        if known == 0 or total % known:
            raise ValueError(f"a tensor of shape {list(shape)} cannot be reshaped to {target}")
        dims[dims.index(-1)] = total // known
    if size(tuple(dims)) != size(shape):
        raise ValueError(f"a tensor of shape {list(shape)} cannot be reshaped to {target}")
    return tuple(dims)


def _squeeze(shape: Shape, axes: list[int] | None) -> Shape:
    if axes is None:
        return tuple(d for d in shape if d != 1)
    drop = {axis_of(a, len(shape)) for a in axes}
    if any(shape[a] != 1 for a in drop):
        raise ValueError(f"Squeeze: an axis of {list(shape)} to squeeze is not of length 1")
    return tuple(d for i, d in enumerate(shape) if i not in drop)


def _unsqueeze(shape: Shape, axes: list[int]) -> Shape:
    rank = len(shape) + len(axes)
    at = {axis_of(a, rank) for a in axes}
    dims = iter(shape)
    return tuple(1 if i in at else next(dims) for i in range(rank))


def reshape(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """Reshape, Flatten, Squeeze, Unsqueeze: the values stay, the shape changes."""
    kind = op.split(":")[1]
    axes = params.get("axes")
    if kind == "Flatten":
        axis = params.get("axis", 1)

        def flatten(x: Tensor) -> Tensor:
            a = axis_of(axis, len(x[1]) + 1) if axis < 0 else axis
            return x[0], (size(x[1][:a]), size(x[1][a:]))

        return flatten
    if kind == "Squeeze":
        return lambda x, *_: (x[0], _squeeze(x[1], axes))
    if kind == "Unsqueeze":
        return lambda x, *_: (x[0], _unsqueeze(x[1], axes or []))
    fixed = params.get("shape")

    def reshape_(x: Tensor, target: Tensor | None = None) -> Tensor:
        dims = fixed if fixed is not None else target[0]  # type: ignore[index]
        return x[0], _reshape_to(x[1], dims)

    return reshape_


def shape_of(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Shape(x) as an int64 vector, with the opset-15 start and end."""
    start, end = params.get("start", 0), params.get("end")

    def kernel(x: Tensor) -> Tensor:
        dims = list(x[1][start:end])
        return dims, (len(dims),)

    return kernel


def constant_of_shape(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """ConstantOfShape(shape): a tensor filled with the attribute's single value."""
    value = params["value"]

    def kernel(shape: Tensor) -> Tensor:
        dims = tuple(shape[0])
        return [value] * size(dims), dims

    return kernel


def concat(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """Concat along ``axis``: each outer block takes one run from every input in turn."""
    axis = params["axis"]

    def kernel(*tensors: Tensor) -> Tensor:
        first = tensors[0][1]
        a = axis_of(axis, len(first))
        outer = size(first[:a])
        runs = [size(t[1][a:]) for t in tensors]
        dims = list(first)
        dims[a] = sum(t[1][a] for t in tensors)
        if outer == 1:
            data = [v for t in tensors for v in t[0]]
        else:
            data = []
            for o in range(outer):
                for (values, _), run in zip(tensors, runs):
                    data.extend(values[o * run : (o + 1) * run])
        return data, tuple(dims)

    return kernel


def gather(op: str, params: dict[str, Any]) -> Callable[[Tensor, Tensor], Tensor]:
    """Gather(data, indices) along ``axis``, negative indices counting from the end."""
    axis = params.get("axis", 0)

    def kernel(x: Tensor, indices: Tensor) -> Tensor:
        data, shape = x
        a = axis_of(axis, len(shape))
        outer, n, inner = blocks(shape, a)
        picks = [i + n if i < 0 else i for i in indices[0]]
        if any(not 0 <= i < n for i in picks):
            raise ValueError(f"Gather: an index is out of range for an axis of length {n}")
        out: list[Any] = []
        for o in range(outer):
            base = o * n
            for i in picks:
                start = (base + i) * inner
                out.extend(data[start : start + inner])
        return out, shape[:a] + indices[1] + shape[a + 1 :]

    return kernel


def _slice_range(start: int, end: int, step: int, n: int) -> range:
    """numpy-style clamping of one axis' start, end and step."""
    return range(n)[slice(start, end, step)]


def slice_(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """Slice(data, starts, ends, axes, steps)."""

    def kernel(
        x: Tensor,
        starts: Tensor,
        ends: Tensor,
        axes: Tensor | None = None,
        steps: Tensor | None = None,
    ) -> Tensor:
        data, shape = x
        rank = len(shape)
        picks = [range(d) for d in shape]
        names = axes[0] if axes is not None else list(range(len(starts[0])))
        strides = steps[0] if steps is not None else [1] * len(names)
        for a, s, e, st in zip(names, starts[0], ends[0], strides):
            a = axis_of(a, rank)
            picks[a] = _slice_range(s, e, st, shape[a])
        dims = tuple(len(r) for r in picks)
        mult = [size(shape[k + 1 :]) for k in range(rank)]
        out = [data[sum(i * m for i, m in zip(pos, mult))] for pos in product(*picks)]
        return out, dims

    return kernel


def transpose(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Transpose by ``perm`` (reversed axes when absent)."""
    perm = params.get("perm")

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        order = perm if perm is not None else list(range(len(shape)))[::-1]
        if len(shape) == 2 and list(order) == [1, 0]:
            rows, cols = shape
            return [data[r * cols + c] for c in range(cols) for r in range(rows)], (cols, rows)
        dims = tuple(shape[p] for p in order)
        mult = [size(shape[k + 1 :]) for k in range(len(shape))]
        step = [mult[p] for p in order]
        out = [data[sum(i * s for i, s in zip(pos, step))] for pos in product(*map(range, dims))]
        return out, dims

    return kernel


def array_feature_extractor(op: str, params: dict[str, Any]) -> Callable[[Tensor, Tensor], Tensor]:
    """ai.onnx.ml ArrayFeatureExtractor(X, indices): the given columns of the last axis."""

    def kernel(x: Tensor, indices: Tensor) -> Tensor:
        data, shape = x
        cols = shape[-1]
        picks = indices[0]
        if any(not 0 <= i < cols for i in picks):
            raise ValueError(f"ArrayFeatureExtractor: an index is out of range for {cols} columns")
        if len(shape) == 1:
            return [data[i] for i in picks], (1, len(picks))
        rows = size(shape[:-1])
        out = [data[r * cols + i] for r in range(rows) for i in picks]
        return out, (*shape[:-1], len(picks))

    return kernel
