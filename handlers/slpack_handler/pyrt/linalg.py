"""MatMul and Gemm: small dense products (linear models, PCA, SVD, MLP layers).

The compiler bakes a constant right-hand matrix into the parameters as its columns, so a row
times the matrix is one ``sum(map(mul, row, column))`` per output: products and sums run at C
speed in double precision and are rounded once to float32, within an ulp of onnxruntime's
float32 GEMM (whose summation order is its own).
"""

from __future__ import annotations

from operator import mul
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor, broadcast_shape, expand, f32, size


def _rows(data: list[Any], n: int, k: int) -> list[list[Any]]:
    return [data[i * k : (i + 1) * k] for i in range(n)]


def _columns(data: list[Any], k: int, m: int) -> list[list[Any]]:
    return [data[j::m] for j in range(m)]


def gemm(op: str, params: dict[str, Any]) -> Callable[..., Tensor]:
    """MatMul(a, b) or Gemm(a, b, c): ``alpha * a' b' + beta * c``."""
    is_gemm = op.endswith("Gemm")
    alpha = params.get("alpha", 1.0)
    beta = params.get("beta", 1.0)
    trans_a = params.get("transA", 0)
    trans_b = params.get("transB", 0)
    baked: list[list[Any]] | None = params.get("columns")
    vector_b = params.get("vector_b", False)
    rounded = params["dtype"] == "float32"

    def right(b: Tensor | None) -> tuple[list[list[Any]], int]:
        if baked is not None:
            return baked, len(baked[0]) if baked else 0
        data, shape = b  # type: ignore[misc]
        if len(shape) == 1:
            return [data], shape[0]
        k, m = shape if not trans_b else (shape[1], shape[0])
        return (_columns(data, k, m) if not trans_b else _rows(data, m, k)), k

    def kernel(a: Tensor, b: Tensor | None = None, c: Tensor | None = None) -> Tensor:
        data, shape = a
        cols, k = right(b)
        if trans_a:
            n = shape[1]
            rows = _columns(data, shape[0], shape[1])
            lead: tuple[int, ...] = (n,)
        else:
            if shape[-1] != k:
                raise ValueError(f"{op.split(':')[1]}: {list(shape)} does not match {k} rows")
            n = size(shape[:-1])
            rows = _rows(data, n, k) if len(shape) > 1 else [data]
            lead = shape[:-1]
        out = [sum(map(mul, row, col)) for row in rows for col in cols]
        dims = lead if (vector_b or (b is not None and len(b[1]) == 1)) else (*lead, len(cols))
        if is_gemm:
            if alpha != 1.0:
                out = [alpha * v for v in out]
            if c is not None and beta:
                dims = broadcast_shape(dims, c[1])
                bias = expand(c[0], c[1], dims)
                out = (
                    [v + beta * w for v, w in zip(out, bias)]
                    if beta != 1.0
                    else [v + w for v, w in zip(out, bias)]
                )
        return (f32(out) if rounded else out), dims

    return kernel
