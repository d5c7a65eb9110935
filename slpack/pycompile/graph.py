"""Compile an (already optimised) ONNX graph into the program the Python runtime loads.

The pass is: read the initializers, lower every node in graph order (each lowering names its
outputs' element types, so float32 rounding is decided here, once), fold every node whose inputs
are all constants by running the runtime's own kernel on them (so folding cannot change an
answer), hand no-op nodes' inputs straight on (Identity, a Cast to the same type), drop what no
graph output needs, then number the values into slots. The result is the plain-data body
described in ``slpack_handler.pyrt.program``."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from onnx import GraphProto, ModelProto, NodeProto, numpy_helper

from slpack.pycompile.lowering import (
    DTYPES,
    LOWERINGS,
    Context,
    Lowered,
    Unsupported,
    attributes,
    op_key,
)
from slpack.pycompile.ml import ML_LOWERINGS
from slpack.pycompile.trees import lower_tree
from slpack_handler.pyrt.registry import KERNELS

ALL_LOWERINGS = {
    **LOWERINGS,
    **ML_LOWERINGS,
    "ai.onnx.ml:TreeEnsembleClassifier": lower_tree,
    "ai.onnx.ml:TreeEnsembleRegressor": lower_tree,
}
FEED_DTYPES = ("float32", "float64", "int64", "bool", "string")
Const = tuple[list[Any], tuple[int, ...]]


def check_node(node: NodeProto) -> list[str]:
    """What the registry says the runtime lacks for ``node`` (empty: the op and attributes are
    supported; element types are checked when the node is lowered)."""
    key = op_key(node)
    entry = KERNELS.get(key)
    if entry is None or key not in ALL_LOWERINGS:
        return [key]
    allowed = entry[2]
    problems = []
    for name, value in attributes(node).items():
        if name not in allowed:
            continue
        for item in value if isinstance(value, list) else [value]:
            if item not in allowed[name]:
                problems.append(f"{key} {name}={item}")
                break
    for sub in (a.g for a in node.attribute if a.g.node):
        problems += [p for n in sub.node for p in check_node(n)]
    return problems


def _initializer(tensor: Any) -> tuple[Const, str]:
    dtype = DTYPES.get(tensor.data_type, "unsupported")
    if dtype == "unsupported":
        raise Unsupported(f"initializer {tensor.name} of element type {tensor.data_type}")
    array = numpy_helper.to_array(tensor)
    values = array.ravel().tolist()
    if dtype == "string":
        values = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
    return (values, tuple(int(d) for d in array.shape)), dtype


def _run_kernel(key: str, params: dict[str, Any], inputs: list[Const | None]) -> list[Const]:
    module_name, factory, _ = KERNELS[key]
    module = import_module("slpack_handler.pyrt." + module_name)
    result = getattr(module, factory)(key, params)(*inputs)
    return list(result) if isinstance(result, tuple) and isinstance(result[0], tuple) else [result]


class _Compiler:
    """One graph (the model's, or a Scan body) being compiled."""

    def __init__(self, graph: GraphProto, input_dtypes: dict[str, str]) -> None:
        self.graph = graph
        self.dtypes: dict[str, str] = dict(input_dtypes)
        self.constants: dict[str, Const] = {}
        for tensor in graph.initializer:
            self.constants[tensor.name], self.dtypes[tensor.name] = _initializer(tensor)
        self.steps: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        self.alias: dict[str, str] = {}  # the output of a no-op node -> the value it passes on
        self.context = Context(self.dtypes, self.constants, self._subgraph)

    def _subgraph(self, graph: GraphProto, outer: list[str]) -> dict[str, Any]:
        names = [i.name for i in graph.input]
        sub = _Compiler(graph, dict(zip(names, outer)))
        known = set(names) | set(sub.constants)
        for node in graph.node:
            known.update(node.output)
            missing = [n for n in node.input if n and n not in known]
            if missing:
                raise Unsupported(f"ai.onnx:Scan body reads the outer value {missing[0]}")
        body = sub.compile(names, [o.name for o in graph.output])
        body["dtypes"] = [sub.dtypes[o.name] for o in graph.output]
        return body

    def lower_all(self) -> None:
        for node in self.graph.node:
            key = op_key(node)
            lowered: Lowered = ALL_LOWERINGS[key](node, self.context)
            inputs = list(node.input) if lowered.inputs is None else lowered.inputs
            inputs = [self.alias.get(n, n) for n in inputs]
            for name, dtype in zip(node.output, lowered.dtypes):
                self.dtypes[name] = dtype
            if _passes_through(key, lowered.params) and inputs[0] not in self.constants:
                self.alias[node.output[0]] = inputs[0]
                continue
            present = [n for n in inputs if n]
            if present and all(n in self.constants for n in present):
                values = _run_kernel(key, lowered.params, [self.constants.get(n) for n in inputs])
                for name, value in zip(node.output, values):
                    self.constants[name] = (value[0], tuple(value[1]))
                continue
            self.steps.append((key, inputs, list(node.output), lowered.params))

    def compile(self, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
        self.lower_all()
        outputs = [self.alias.get(n, n) for n in outputs]
        needed = set(outputs)
        kept = []
        for step in reversed(self.steps):
            if needed.intersection(step[2]):
                kept.append(step)
                needed.update(n for n in step[1] if n)
        kept.reverse()
        slots: dict[str, int] = {}

        def slot(name: str) -> int:
            if not name:
                return 0  # slot 0 always holds None: an absent optional input
            return slots.setdefault(name, len(slots) + 1)

        for name in inputs:
            slot(name)
        constants = [
            [slot(name), value[0], list(value[1])]
            for name, value in self.constants.items()
            if name in needed or name in outputs
        ]
        steps = [
            [key, [slot(n) for n in ins], [slot(n) for n in outs], params]
            for key, ins, outs, params in kept
        ]
        return {
            "inputs": [slot(n) for n in inputs],
            "outputs": [slot(n) for n in outputs],
            "slots": len(slots) + 1,
            "constants": constants,
            "steps": steps,
        }


def _passes_through(key: str, params: dict[str, Any]) -> bool:
    """Whether the node hands its input on unchanged (Identity, a Cast to the same type): its
    output is then the same value, and the program has no step for it."""
    return key == "ai.onnx:Identity" or (key == "ai.onnx:Cast" and params["from"] == params["to"])


def _feed(value: Any) -> tuple[str, str, int | None]:
    tensor = value.type.tensor_type
    dtype = DTYPES.get(tensor.elem_type, "unsupported")
    dims = tensor.shape.dim
    if dtype not in FEED_DTYPES:
        raise Unsupported(f"input {value.name} of element type {dtype}")
    if len(dims) != 2:
        raise Unsupported(f"input {value.name} of rank {len(dims)} (the runtime takes [N, width])")
    width = dims[1].dim_value if dims[1].HasField("dim_value") else None
    return value.name, dtype, width


def compile_body(model: ModelProto) -> dict[str, Any]:
    """The program body of ``model`` (raises :class:`Unsupported` for the first problem)."""
    graph = model.graph
    feeds = [_feed(v) for v in graph.input if v.name not in {t.name for t in graph.initializer}]
    compiler = _Compiler(graph, {name: dtype for name, dtype, _ in feeds})
    outputs = [o.name for o in graph.output]
    body = compiler.compile([name for name, _, _ in feeds], outputs)
    body["inputs"] = [
        [name, dtype, width, slot] for (name, dtype, width), slot in zip(feeds, body["inputs"])
    ]
    body["outputs"] = [[name, slot] for name, slot in zip(outputs, body["outputs"])]
    return body
