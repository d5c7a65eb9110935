"""Lowering of one ONNX node to the runtime's kernel parameters and its output element types.

Every lowering reads the node's attributes once, resolves defaults, bakes constant inputs that
the kernel would otherwise re-read on every request (a matrix, axes, a target shape), and names
the element type of each output so the next node knows whether to round to float32. A node the
runtime cannot evaluate faithfully raises :class:`Unsupported` naming the operator and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from onnx import AttributeProto, NodeProto, helper, numpy_helper

DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    11: "float64",
    12: "uint32",
    13: "uint64",
}
FLOATS = ("float32", "float64")


class Unsupported(Exception):
    """A node the runtime cannot evaluate faithfully; ``str()`` is ``domain:op reason``."""


@dataclass
class Lowered:
    """What a node becomes: kernel parameters, output element types, the inputs it still reads."""

    params: dict[str, Any]
    dtypes: list[str]
    inputs: list[str] | None = None  # None: the node's own inputs
    extra: dict[str, Any] = field(default_factory=dict)


class Context:
    """What a lowering may ask about its inputs: element types and constant values."""

    def __init__(
        self,
        dtypes: dict[str, str],
        constants: dict[str, tuple[list[Any], tuple[int, ...]]],
        subgraph: Callable[[Any, list[str]], dict[str, Any]],
    ) -> None:
        self.dtypes = dtypes
        self.constants = constants
        self.subgraph = subgraph

    def dtype(self, name: str) -> str:
        return self.dtypes[name]

    def constant(self, name: str) -> tuple[list[Any], tuple[int, ...]] | None:
        return self.constants.get(name) if name else None


def op_key(node: NodeProto) -> str:
    return f"{node.domain or 'ai.onnx'}:{node.op_type}"


def attributes(node: NodeProto) -> dict[str, Any]:
    """Attribute values as plain Python (strings decoded, tensors as flat lists)."""
    out: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            out[attr.name] = attr.g
            continue
        value = helper.get_attribute_value(attr)
        if attr.type == AttributeProto.TENSOR:
            value = numpy_helper.to_array(value).ravel().tolist()
        elif isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8") for v in value]
        out[attr.name] = value
    return out


def tensor_dtype(attr: AttributeProto) -> str:
    return DTYPES.get(attr.t.data_type, "unsupported")


# -- the standard operators -------------------------------------------------------------------

_BOOL_UNARY = ("IsNaN", "IsInf", "Not")
_COMPARE = ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor")
_FLOAT_ONLY = (
    "Sqrt",
    "Exp",
    "Log",
    "Reciprocal",
    "Sigmoid",
    "Tanh",
    "Erf",
    "Floor",
    "Ceil",
    "Round",
    "Softplus",
    "IsNaN",
    "IsInf",
)


def _unary(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    name = node.op_type
    if name in _FLOAT_ONLY and dtype not in FLOATS:
        raise Unsupported(f"{op_key(node)} on {dtype}")
    params = {"dtype": dtype, **attributes(node)}
    return Lowered(params, ["bool" if name in _BOOL_UNARY else dtype])


def _binary(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    if dtype == "string" and node.op_type != "Equal":
        raise Unsupported(f"{op_key(node)} on strings")
    out = "bool" if node.op_type in _COMPARE else dtype
    return Lowered({"dtype": dtype}, [out])


def _same(node: NodeProto, ctx: Context) -> Lowered:
    return Lowered(
        {"dtype": ctx.dtype(node.input[0]), **attributes(node)}, [ctx.dtype(node.input[0])]
    )


def _where(node: NodeProto, ctx: Context) -> Lowered:
    return Lowered({}, [ctx.dtype(node.input[1])])


def _cast(node: NodeProto, ctx: Context) -> Lowered:
    source = ctx.dtype(node.input[0])
    target = DTYPES.get(attributes(node)["to"], "unsupported")
    if target == "unsupported" or (target == "string" and source in FLOATS):
        raise Unsupported(f"{op_key(node)} to={target} from={source}")
    if source == "string" and target != "string":
        raise Unsupported(f"{op_key(node)} to={target} from=string")
    return Lowered({"from": source, "to": target}, [target])


def _ints(ctx: Context, node: NodeProto, index: int, attr: str) -> list[int] | None:
    """An int list given as an attribute (older opsets) or a constant input (newer)."""
    attrs = attributes(node)
    if attr in attrs:
        return list(attrs[attr])
    if len(node.input) > index and node.input[index]:
        value = ctx.constant(node.input[index])
        if value is None:
            raise Unsupported(f"{op_key(node)} with a computed {attr}")
        return [int(v) for v in value[0]]
    return None


def _reshape(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    attrs = attributes(node)
    name = node.op_type
    if name == "Flatten":
        return Lowered({"axis": attrs.get("axis", 1)}, [dtype], [node.input[0]])
    if name in ("Squeeze", "Unsqueeze"):
        axes = _ints(ctx, node, 1, "axes")
        if axes is None and name == "Unsqueeze":
            raise Unsupported(f"{op_key(node)} without axes")
        return Lowered({"axes": axes}, [dtype], [node.input[0]])
    target = ctx.constant(node.input[1])
    if target is not None:
        return Lowered({"shape": [int(v) for v in target[0]]}, [dtype], [node.input[0]])
    return Lowered({}, [dtype])


def _shape(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    return Lowered({"start": attrs.get("start", 0), "end": attrs.get("end")}, ["int64"])


def _constant_of_shape(node: NodeProto, ctx: Context) -> Lowered:
    value = [0.0]
    dtype = "float32"
    for attr in node.attribute:
        if attr.name == "value":
            dtype = tensor_dtype(attr)
            value = numpy_helper.to_array(attr.t).ravel().tolist()
    if dtype not in ("float32", "float64", "int64", "int32", "bool"):
        raise Unsupported(f"{op_key(node)} of {dtype}")
    return Lowered({"value": value[0]}, [dtype])


def _concat(node: NodeProto, ctx: Context) -> Lowered:
    return Lowered({"axis": attributes(node)["axis"]}, [ctx.dtype(node.input[0])])


def _axis_op(node: NodeProto, ctx: Context) -> Lowered:
    return Lowered(
        {**attributes(node), "dtype": ctx.dtype(node.input[0])}, [ctx.dtype(node.input[0])]
    )


def _reduce(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    if dtype not in FLOATS and node.op_type not in (
        "ReduceSum",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
    ):
        raise Unsupported(f"{op_key(node)} on {dtype}")
    attrs = attributes(node)
    params: dict[str, Any] = {
        "dtype": dtype,
        "keepdims": attrs.get("keepdims", 1),
        "noop_with_empty_axes": attrs.get("noop_with_empty_axes", 0),
    }
    axes = _ints(ctx, node, 1, "axes")
    params["axes"] = axes
    return Lowered(params, [dtype], [node.input[0]])


def _arg(node: NodeProto, ctx: Context) -> Lowered:
    return Lowered(attributes(node), ["int64"])


def _topk(node: NodeProto, ctx: Context) -> Lowered:
    return Lowered(attributes(node), [ctx.dtype(node.input[0]), "int64"])


def _gemm(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    if dtype not in FLOATS:
        raise Unsupported(f"{op_key(node)} on {dtype}")
    params: dict[str, Any] = {"dtype": dtype}
    if node.op_type == "Gemm":
        params.update(attributes(node))
    inputs = list(node.input)
    b = ctx.constant(node.input[1])
    if b is not None and len(b[1]) == 2:
        data, (rows, cols) = b
        if params.get("transB"):
            params["columns"] = [data[j * cols : (j + 1) * cols] for j in range(rows)]
        else:
            params["columns"] = [data[j::cols] for j in range(cols)]
        inputs = [inputs[0], "", *inputs[2:]]
    elif b is not None and len(b[1]) == 1:
        params["columns"] = [b[0]]
        params["vector_b"] = True
        inputs = [inputs[0], "", *inputs[2:]]
    return Lowered(params, [dtype], inputs)


def _scan(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    n_scan = attrs["num_scan_inputs"]
    n_state = len(node.input) - n_scan
    body = ctx.subgraph(attrs["body"], [ctx.dtype(name) for name in node.input])
    return Lowered({"n_state": n_state, "body": body}, body["dtypes"])


LOWERINGS: dict[str, Callable[[NodeProto, Context], Lowered]] = {}
for _name in (
    "Abs",
    "Neg",
    "Sqrt",
    "Exp",
    "Log",
    "Reciprocal",
    "Sigmoid",
    "Tanh",
    "Relu",
    "Erf",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Softplus",
    "IsNaN",
    "IsInf",
    "Not",
):
    LOWERINGS["ai.onnx:" + _name] = _unary
for _name in ("Add", "Sub", "Mul", "Div", "Pow", *_COMPARE):
    LOWERINGS["ai.onnx:" + _name] = _binary
for _name in ("Sum", "Max", "Min", "Mean", "Clip", "Identity", "Gather", "Slice", "Transpose"):
    LOWERINGS["ai.onnx:" + _name] = _same
for _name in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
    LOWERINGS["ai.onnx:" + _name] = _reshape
for _name in (
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceSumSquare",
    "ReduceLogSumExp",
    "ReduceL1",
    "ReduceL2",
):
    LOWERINGS["ai.onnx:" + _name] = _reduce
LOWERINGS.update(
    {
        "ai.onnx:Where": _where,
        "ai.onnx:Cast": _cast,
        "ai.onnx:Shape": _shape,
        "ai.onnx:ConstantOfShape": _constant_of_shape,
        "ai.onnx:Concat": _concat,
        "ai.onnx:ArgMax": _arg,
        "ai.onnx:ArgMin": _arg,
        "ai.onnx:TopK": _topk,
        "ai.onnx:Softmax": _axis_op,
        "ai.onnx:LogSoftmax": _axis_op,
        "ai.onnx:MatMul": _gemm,
        "ai.onnx:Gemm": _gemm,
        "ai.onnx:Scan": _scan,
        "ai.onnx.ml:ArrayFeatureExtractor": _same,
    }
)
