"""Compile a converted ONNX graph for slpack's dependency-free Python runtime.

``compile_model(model)`` returns the program bytes ``slpack_handler.pyrt.load`` reads;
``unsupported_ops(model)`` lists what the runtime cannot evaluate faithfully (empty: compile will
succeed). The set of supported operators and attribute values is the runtime's kernel registry,
``slpack_handler.pyrt.registry.KERNELS``; this package only reads it.
"""

from __future__ import annotations

import marshal

from onnx import ModelProto

from slpack.pycompile.graph import check_node, compile_body
from slpack.pycompile.lowering import Unsupported
from slpack_handler.pyrt.registry import MAGIC, VERSION

__all__ = ["UnsupportedGraph", "compile_model", "unsupported_ops"]

MARSHAL_VERSION = 4  # read by every CPython from 3.4 on; the runtime's floor is 3.9


class UnsupportedGraph(ValueError):
    """The graph uses operators (or attribute values) the Python runtime does not implement."""

    def __init__(self, ops: list[str]) -> None:
        self.ops = ops
        super().__init__(
            "the Python runtime cannot evaluate "
            + ", ".join(ops)
            + "; serve this model with onnxruntime"
        )


def unsupported_ops(model: ModelProto) -> list[str]:
    """Every operator or attribute value of ``model`` the runtime lacks, each named once;
    element types and shapes the kernels cannot take are found by lowering the graph."""
    found: list[str] = []
    for node in model.graph.node:
        for problem in check_node(node):
            if problem not in found:
                found.append(problem)
    if found:
        return found
    try:
        compile_body(model)
    except Unsupported as exc:
        return [str(exc)]
    return []


def compile_model(model: ModelProto) -> bytes:
    """The program bytes for ``model``; raises :class:`UnsupportedGraph` naming what is missing."""
    problems = [p for node in model.graph.node for p in check_node(node)]
    if problems:
        raise UnsupportedGraph(list(dict.fromkeys(problems)))
    try:
        body = compile_body(model)
    except Unsupported as exc:
        raise UnsupportedGraph([str(exc)]) from None
    return MAGIC + bytes((VERSION,)) + marshal.dumps(body, MARSHAL_VERSION)
