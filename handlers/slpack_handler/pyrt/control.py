"""Scan: the one control-flow operator skl2onnx emits (pairwise distances of KNN models).

The body is a program body of its own, built once; each iteration copies its slot template,
places the state and the scan slices, and runs its steps.
"""

from __future__ import annotations

from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor, size


def scan(op: str, params: dict[str, Any]) -> Callable[..., tuple[Tensor, ...]]:
    """Scan (opset 9+) over axis 0, forward, of its scan inputs."""
    from slpack_handler.pyrt.program import build

    body = build(params["body"])
    n_state = params["n_state"]
    ins, outs = params["body"]["inputs"], params["body"]["outputs"]

    def kernel(*tensors: Tensor) -> tuple[Tensor, ...]:
        states = list(tensors[:n_state])
        scans = tensors[n_state:]
        length = scans[0][1][0]
        if any(t[1][0] != length for t in scans):
            raise ValueError("Scan: the scan inputs differ in length")
        inner = [(size(t[1][1:]), t[1][1:]) for t in scans]
        collected: list[list[Tensor]] = [[] for _ in outs[n_state:]]
        for step in range(length):
            env = body.env[:]
            pieces = [
                (t[0][step * n : (step + 1) * n], shape) for t, (n, shape) in zip(scans, inner)
            ]
            for slot, value in zip(ins, states + pieces):
                env[slot] = value
            body.execute(env)
            states = [env[s] for s in outs[:n_state]]
            for got, slot in zip(collected, outs[n_state:]):
                got.append(env[slot])
        stacked = [
            ([v for t in got for v in t[0]], (length,) + (got[0][1] if got else ()))
            for got in collected
        ]
        return tuple(states + stacked)

    return kernel
