"""Every pyrt kernel against onnxruntime on generated inputs (small graphs built with onnx.helper).

Each test builds a one-node (or few-node) graph, compiles it with ``slpack.pycompile``, runs it
with ``slpack_handler.pyrt`` and with onnxruntime on the same feeds, and requires identical
labels, identical NaN positions and numbers within 1e-5 (absolute or relative).
"""

from __future__ import annotations

import marshal
import math
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from slpack.pycompile import UnsupportedGraph, compile_model, unsupported_ops
from slpack_handler.pyrt import load, trees
from slpack_handler.pyrt.registry import MAGIC

F32, F64, I64, STR, BOOL = (
    TensorProto.FLOAT,
    TensorProto.DOUBLE,
    TensorProto.INT64,
    TensorProto.STRING,
    TensorProto.BOOL,
)
NP = {F32: np.float32, F64: np.float64, I64: np.int64, STR: object, BOOL: np.bool_}
FAST = settings(max_examples=25, deadline=None)


def model(
    nodes: list[Any],
    inputs: list[tuple[str, int, list[Any]]],
    outputs: list[tuple[str, int]],
    inits: list[Any] | None = None,
) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
        initializer=inits or [],
    )
    opsets = [
        helper.make_opsetid("", 21),
        helper.make_opsetid("ai.onnx.ml", 3),
        helper.make_opsetid("com.microsoft", 1),
    ]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def both(m: Any, feeds: dict[str, np.ndarray]) -> tuple[list[Any], list[Any]]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            m.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime has no kernel for this type: nothing to compare with
        if "NOT_IMPLEMENTED" in str(exc):
            pytest.skip(f"onnxruntime: {str(exc).splitlines()[0][:120]}")
        raise
    want = session.run(None, feeds)
    got = load(compile_model(m)).run({k: v.tolist() for k, v in feeds.items()})
    return want, got


def same(want: list[Any], got: list[Any], tol: float = 1e-5) -> None:
    for w, g in zip(want, got):
        w = np.asarray(w)
        if w.dtype.kind in "fc":
            ga = np.asarray(g, dtype=np.float64)
            assert ga.shape == w.shape
            wf = w.astype(np.float64)
            assert (np.isnan(wf) == np.isnan(ga)).all(), (w, g)
            ok = np.isnan(wf) | (wf == ga) | (np.abs(wf - ga) <= tol + tol * np.abs(wf))
            assert ok.all(), (w, g)
        else:
            assert np.asarray(g, dtype=w.dtype).shape == w.shape
            assert w.tolist() == g, (w, g)


def check(m: Any, feeds: dict[str, np.ndarray], tol: float = 1e-5) -> None:
    same(*both(m, feeds), tol)


def matrix(rows: int, cols: int, dtype: Any, rng: np.random.Generator, nan: float = 0.1) -> Any:
    x = rng.normal(0, 2, (rows, cols))
    x[rng.random((rows, cols)) < nan] = np.nan
    return x.astype(dtype)


floats = st.one_of(st.floats(-1e4, 1e4, width=32), st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))


@st.composite
def float_matrix(draw: Any) -> Any:
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return np.array(
        draw(st.lists(floats, min_size=n * k, max_size=n * k)), dtype=np.float64
    ).reshape(n, k)


# -- elementwise --------------------------------------------------------------------------------

UNARY = [
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
    "IsNaN",
    "Softplus",
]


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("dtype", [F32, F64])
@FAST
@given(x=float_matrix())
def test_unary(op: str, dtype: int, x: np.ndarray) -> None:
    out = BOOL if op == "IsNaN" else dtype
    m = model(
        [helper.make_node(op, ["x"], ["y"])], [("x", dtype, [None, x.shape[1]])], [("y", out)]
    )
    check(m, {"x": x.astype(NP[dtype])}, tol=2e-5)


BINARY = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("dtype", [F32, F64])
@FAST
@given(x=float_matrix(), shape=st.sampled_from(["same", "row", "col", "scalar"]))
def test_binary_broadcast(op: str, dtype: int, x: np.ndarray, shape: str) -> None:
    rng = np.random.default_rng(x.size)
    other = {"same": x.shape, "row": (x.shape[1],), "col": (x.shape[0], 1), "scalar": ()}[shape]
    b = rng.normal(0, 2, other).astype(NP[dtype])
    out = BOOL if op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual") else dtype
    m = model(
        [helper.make_node(op, ["x", "b"], ["y"])],
        [("x", dtype, [None, x.shape[1]])],
        [("y", out)],
        [numpy_helper.from_array(np.asarray(b), "b")],
    )
    check(m, {"x": x.astype(NP[dtype])}, tol=2e-5)


@pytest.mark.parametrize("op", ["Sum", "Max", "Min", "Mean"])
def test_variadic(op: str) -> None:
    rng = np.random.default_rng(0)
    m = model(
        [helper.make_node(op, ["x", "y", "z"], ["o"])],
        [("x", F32, [None, 3]), ("y", F32, [None, 3]), ("z", F32, [None, 1])],
        [("o", F32)],
    )
    check(m, {k: matrix(6, 1 if k == "z" else 3, np.float32, rng, 0.0) for k in "xyz"})


def test_where_isnan_cast_clip_int_arithmetic() -> None:
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("IsNaN", ["x"], ["m"]),
        helper.make_node("Where", ["m", "fill", "x"], ["w"]),
        helper.make_node("Clip", ["w", "lo", "hi"], ["c"]),
        helper.make_node("Cast", ["c"], ["i"], to=I64),
        helper.make_node("Mul", ["i", "two"], ["j"]),
        helper.make_node("Div", ["j", "three"], ["k"]),
        helper.make_node("Cast", ["k"], ["f"], to=F64),
        helper.make_node("Cast", ["m"], ["mf"], to=F32),
        helper.make_node("Cast", ["x"], ["xd"], to=F64),
    ]
    inits = [
        numpy_helper.from_array(np.array([1.5, -2.5, 0.0], np.float32), "fill"),
        numpy_helper.from_array(np.array(-2.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(3.0, np.float32), "hi"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([-3], np.int64), "three"),
    ]
    m = model(nodes, [("x", F32, [None, 3])], [("f", F64), ("mf", F32), ("xd", F64)], inits)
    check(m, {"x": matrix(20, 3, np.float32, rng)})


# -- layout -------------------------------------------------------------------------------------


def test_layout_ops() -> None:
    rng = np.random.default_rng(2)
    i64 = lambda v, n: numpy_helper.from_array(np.array(v, np.int64), n)  # noqa: E731
    nodes = [
        helper.make_node("Concat", ["x", "x"], ["c"], axis=1),
        helper.make_node("Gather", ["c", "idx"], ["g"], axis=1),
        helper.make_node("Unsqueeze", ["g", "ax"], ["u"]),
        helper.make_node("Transpose", ["u"], ["t"], perm=[2, 0, 1]),
        helper.make_node("Squeeze", ["t", "ax2"], ["s"]),
        helper.make_node("Slice", ["s", "st", "en", "axs", "steps"], ["sl"]),
        helper.make_node("Flatten", ["sl"], ["fl"], axis=1),
        helper.make_node("Reshape", ["fl", "shape"], ["r"]),
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node(
            "ConstantOfShape",
            ["sh"],
            ["z"],
            value=numpy_helper.from_array(np.array([2.5], np.float32)),
        ),
        helper.make_node("Identity", ["z"], ["zi"]),
    ]
    inits = [
        i64([3, 0, -1], "idx"),
        i64([1], "ax"),
        i64([2], "ax2"),
        i64([0, 1], "st"),
        i64([2, 100], "en"),
        i64([1, 0], "axs"),
        i64([1, 2], "steps"),
        i64([-1], "shape"),
    ]
    m = model(nodes, [("x", F32, [None, 4])], [("r", F32), ("zi", F32)], inits)
    for rows in (1, 3):
        check(m, {"x": matrix(rows, 4, np.float32, rng)})


def test_no_op_nodes_compile_to_no_step() -> None:
    """Identity and a Cast to the same type hand their input on: no step, same answers, also
    when the passed-on value is a graph input or output."""
    nodes = [
        helper.make_node("Cast", ["x"], ["c"], to=F32),
        helper.make_node("Identity", ["c"], ["i"]),
        helper.make_node("Add", ["i", "i"], ["y"]),
        helper.make_node("Identity", ["x"], ["echo"]),
    ]
    m = model(nodes, [("x", F32, [None, 2])], [("y", F32), ("echo", F32)])
    body = marshal.loads(compile_model(m)[len(MAGIC) + 1 :])
    assert [step[0] for step in body["steps"]] == ["ai.onnx:Add"]
    check(m, {"x": matrix(3, 2, np.float32, np.random.default_rng(5))})


def test_array_feature_extractor_and_topk() -> None:
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=-1, largest=0),
        helper.make_node("ArrayFeatureExtractor", ["labels", "i"], ["l"], domain="ai.onnx.ml"),
        helper.make_node("TopK", ["x", "k"], ["v2", "i2"], axis=1, largest=1),
    ]
    inits = [
        numpy_helper.from_array(np.array([2], np.int64), "k"),
        numpy_helper.from_array(np.arange(10, 16).astype(np.float32), "labels"),
    ]
    m = model(
        nodes, [("x", F32, [None, 6])], [("v", F32), ("l", F32), ("v2", F32), ("i2", I64)], inits
    )
    x = np.round(matrix(8, 6, np.float32, rng, 0.0))  # rounded: ties must break as onnxruntime's
    check(m, {"x": x})


# -- reductions, arg, softmax, products ---------------------------------------------------------

REDUCE = [
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceSumSquare",
    "ReduceLogSumExp",
    "ReduceL1",
    "ReduceL2",
]


@pytest.mark.parametrize("op", REDUCE)
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("axes", [[1], [0], [0, 1], None])
def test_reduce(op: str, keepdims: int, axes: list[int] | None) -> None:
    rng = np.random.default_rng(4)
    ins = ["x"] + (["axes"] if axes is not None else [])
    inits = [numpy_helper.from_array(np.array(axes, np.int64), "axes")] if axes else []
    m = model(
        [helper.make_node(op, ins, ["y"], keepdims=keepdims)],
        [("x", F32, [None, 4])],
        [("y", F32)],
        inits,
    )
    for dtype in (np.float32,):
        check(m, {"x": matrix(3, 4, dtype, rng, 0.0)}, tol=2e-5)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keepdims,last", [(1, 1, 0), (0, 0, 0), (1, 0, 1)])
def test_arg(op: str, axis: int, keepdims: int, last: int) -> None:
    rng = np.random.default_rng(5)
    m = model(
        [helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keepdims, select_last_index=last)],
        [("x", F64, [None, 5])],
        [("y", I64)],
    )
    check(m, {"x": np.round(matrix(7, 5, np.float64, rng, 0.0))})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax(op: str, axis: int) -> None:
    rng = np.random.default_rng(6)
    m = model(
        [helper.make_node(op, ["x"], ["y"], axis=axis)], [("x", F32, [None, 4])], [("y", F32)]
    )
    check(m, {"x": matrix(5, 4, np.float32, rng, 0.0)})


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("rows", [1, 9])
def test_matmul_gemm(dtype: int, rows: int) -> None:
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.normal(size=(4, 3)).astype(NP[dtype]), "w")
    wt = numpy_helper.from_array(rng.normal(size=(2, 3)).astype(NP[dtype]), "wt")
    c = numpy_helper.from_array(rng.normal(size=(2,)).astype(NP[dtype]), "c")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Gemm", ["h", "wt", "c"], ["y"], alpha=-2.0, beta=0.5, transB=1),
        helper.make_node("MatMul", ["x", "x2"], ["sq"]),
        helper.make_node("Gemm", ["h", "h"], ["g"], transA=1),
    ]
    m = model(
        nodes,
        [("x", dtype, [None, 4]), ("x2", dtype, [4, None])],
        [("y", dtype), ("sq", dtype), ("g", dtype)],
        [w, wt, c],
    )
    check(
        m,
        {"x": matrix(rows, 4, NP[dtype], rng, 0.0), "x2": matrix(4, rows, NP[dtype], rng, 0.0)},
        tol=2e-5,
    )


# -- ai.onnx.ml preprocessing -------------------------------------------------------------------


def ml(op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> Any:
    return helper.make_node(op, inputs, outputs, domain="ai.onnx.ml", **attrs)


@pytest.mark.parametrize("dtype", [F32, F64, I64])
def test_scaler_normalizer(dtype: int) -> None:
    rng = np.random.default_rng(8)
    nodes = [ml("Scaler", ["x"], ["s"], offset=[0.5, -1.0, 2.0], scale=[3.0, 0.1, -1.5])]
    nodes += [ml("Normalizer", ["s"], [f"n{k}"], norm=k) for k in ("MAX", "L1", "L2")]
    m = model(
        nodes, [("x", dtype, [None, 3])], [("s", F32), ("nMAX", F32), ("nL1", F32), ("nL2", F32)]
    )
    x = matrix(6, 3, np.float64, rng, 0.0) * 10
    check(m, {"x": x.astype(NP[dtype])})


def test_imputer_binarizer() -> None:
    rng = np.random.default_rng(9)
    nodes = [
        ml(
            "Imputer",
            ["x"],
            ["i"],
            imputed_value_floats=[1.0, 2.0, 3.0],
            replaced_value_float=float("nan"),
        ),
        ml("Binarizer", ["i"], ["b"], threshold=0.5),
        ml("Imputer", ["n"], ["j"], imputed_value_int64s=[7], replaced_value_int64=-1),
    ]
    m = model(nodes, [("x", F32, [None, 3]), ("n", I64, [None, 2])], [("b", F32), ("j", I64)])
    check(
        m,
        {
            "x": matrix(8, 3, np.float32, rng, 0.3),
            "n": rng.integers(-2, 2, (8, 2)).astype(np.int64),
        },
    )


def test_encoders() -> None:
    cats = ["a", "b", "c"]
    nodes = [
        ml(
            "LabelEncoder",
            ["s"],
            ["code"],
            keys_strings=cats,
            values_int64s=[5, 6, 7],
            default_int64=-1,
        ),
        ml(
            "LabelEncoder",
            ["code"],
            ["back"],
            keys_int64s=[5, 6],
            values_strings=["x", "y"],
            default_string="?",
        ),
        ml(
            "LabelEncoder",
            ["f"],
            ["ff"],
            keys_floats=[1.0, float("nan")],
            values_floats=[10.0, 20.0],
            default_float=-1.0,
        ),
        ml("OneHotEncoder", ["s"], ["oh"], cats_strings=cats, zeros=1),
        ml("OneHotEncoder", ["f"], ["ohf"], cats_int64s=[1, 2], zeros=1),
        ml(
            "CategoryMapper",
            ["s"],
            ["cm"],
            cats_strings=cats,
            cats_int64s=[1, 2, 3],
            default_int64=0,
        ),
        ml(
            "CategoryMapper",
            ["code"],
            ["cm2"],
            cats_strings=cats,
            cats_int64s=[5, 6, 7],
            default_string="none",
        ),
    ]
    m = model(
        nodes,
        [("s", STR, [None, 1]), ("f", F32, [None, 1])],
        [("back", STR), ("ff", F32), ("oh", F32), ("ohf", F32), ("cm", I64), ("cm2", STR)],
    )
    s = np.array([["a"], ["c"], [""], ["zz"], ["b"]], dtype=object)
    f = np.array([[1.0], [np.nan], [2.0], [3.5], [1.9]], dtype=np.float32)
    check(m, {"s": s, "f": f})


# -- models -------------------------------------------------------------------------------------

TRANSFORMS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("classes", [1, 2, 3])
@pytest.mark.parametrize("labels", ["ints", "strings"])
def test_linear_classifier(transform: str, classes: int, labels: str) -> None:
    rng = np.random.default_rng(10)
    names = [f"c{i}" for i in range(max(classes, 2))]
    attr = (
        {"classlabels_strings": names}
        if labels == "strings"
        else {"classlabels_ints": list(range(3, 3 + max(classes, 2)))}
    )
    coefs = rng.normal(size=classes * 3).tolist()
    node = ml(
        "LinearClassifier",
        ["x"],
        ["l", "p"],
        coefficients=coefs,
        intercepts=rng.normal(size=classes).tolist(),
        post_transform=transform,
        **attr,
    )
    score = 0.5 if transform == "PROBIT" else 2.0  # PROBIT is defined on [0, 1]
    m = model(
        [node], [("x", F32, [None, 3])], [("l", STR if labels == "strings" else I64), ("p", F32)]
    )
    if classes == 1 and transform == "PROBIT":  # onnxruntime leaves half its output unwritten
        assert unsupported_ops(m) == [
            "ai.onnx.ml:LinearClassifier post_transform=PROBIT with one score column"
        ]
        return
    check(m, {"x": (matrix(9, 3, np.float32, rng, 0.0) * score / 10).astype(np.float32)})


def test_linear_regressor() -> None:
    rng = np.random.default_rng(11)
    node = ml(
        "LinearRegressor",
        ["x"],
        ["y"],
        coefficients=rng.normal(size=6).tolist(),
        intercepts=[0.5, -1.0],
        targets=2,
    )
    m = model([node], [("x", F64, [None, 3])], [("y", F32)])
    check(m, {"x": matrix(5, 3, np.float64, rng, 0.0)})


@pytest.mark.parametrize("kernel", ["LINEAR", "POLY", "RBF", "SIGMOID"])
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("proba", [False, True])
def test_svm_classifier(kernel: str, classes: int, proba: bool) -> None:
    rng = np.random.default_rng(12)
    per_class = [2, 3, 2][:classes]
    n = sum(per_class)
    attrs: dict[str, Any] = dict(
        kernel_type=kernel,
        kernel_params=[0.3, 0.5, 3.0],
        vectors_per_class=per_class,
        support_vectors=rng.normal(size=n * 3).tolist(),
        coefficients=rng.normal(size=(classes - 1) * n).tolist(),
        rho=rng.normal(size=classes * (classes - 1) // 2).tolist(),
        classlabels_ints=list(range(classes)),
    )
    if proba:
        pairs = classes * (classes - 1) // 2
        attrs.update(
            prob_a=rng.normal(-2, 0.5, pairs).tolist(), prob_b=rng.normal(0, 0.3, pairs).tolist()
        )
    m = model(
        [ml("SVMClassifier", ["x"], ["l", "p"], **attrs)],
        [("x", F32, [None, 3])],
        [("l", I64), ("p", F32)],
    )
    check(m, {"x": matrix(12, 3, np.float32, rng, 0.0)}, tol=1e-4 if proba else 1e-5)


@pytest.mark.parametrize("kernel", ["LINEAR", "POLY", "RBF", "SIGMOID"])
@pytest.mark.parametrize("one_class", [0, 1])
def test_svm_regressor(kernel: str, one_class: int) -> None:
    rng = np.random.default_rng(13)
    node = ml(
        "SVMRegressor",
        ["x"],
        ["y"],
        kernel_type=kernel,
        kernel_params=[0.2, 0.1, 2.0],
        n_supports=4,
        support_vectors=rng.normal(size=12).tolist(),
        coefficients=rng.normal(size=4).tolist(),
        rho=[0.3],
        one_class=one_class,
    )
    m = model([node], [("x", F32, [None, 3])], [("y", F32)])
    check(m, {"x": matrix(10, 3, np.float32, rng, 0.0)})


def random_forest(
    rng: np.random.Generator,
    trees: int,
    features: int,
    outputs: int,
    modes: list[str],
    tracks: bool,
    classes_per_leaf: str,
) -> dict[str, Any]:
    """Random trees of depth <= 4 with mixed split modes, NaN routes and leaf weights."""
    nodes: dict[str, list[Any]] = {
        k: []
        for k in (
            "treeids",
            "nodeids",
            "featureids",
            "modes",
            "values",
            "truenodeids",
            "falsenodeids",
            "missing_value_tracks_true",
        )
    }
    leaves: dict[str, list[Any]] = {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    for t in range(trees):
        counter = [0]

        def grow(depth: int, t: int = t, counter: list[int] = counter) -> int:
            me = counter[0]
            counter[0] += 1
            leaf = depth >= 4 or (depth > 0 and rng.random() < 0.3)
            for key, value in (
                ("treeids", t),
                ("nodeids", me),
                ("featureids", int(rng.integers(features))),
                ("modes", "LEAF" if leaf else str(rng.choice(modes))),
                ("values", float(np.float32(np.round(rng.normal(), 1)))),
                ("truenodeids", 0),
                ("falsenodeids", 0),
                ("missing_value_tracks_true", int(tracks and rng.random() < 0.5)),
            ):
                nodes[key].append(value)
            pos = len(nodes["nodeids"]) - 1
            if leaf:
                ks = (
                    range(outputs)
                    if classes_per_leaf == "all"
                    else [t % outputs]
                    if classes_per_leaf == "one"
                    else sorted(set(rng.integers(0, outputs, 2).tolist()))
                )
                for k in ks:
                    for key, value in (
                        ("treeids", t),
                        ("nodeids", me),
                        ("ids", int(k)),
                        ("weights", float(np.float32(rng.normal()))),
                    ):
                        leaves[key].append(value)
                return me
            nodes["truenodeids"][pos] = grow(depth + 1)
            nodes["falsenodeids"][pos] = grow(depth + 1)
            return me

        grow(0)
    return {"nodes": nodes, "leaves": leaves}


# Forests within the node budget are compiled to expressions at load, larger ones walked as
# tuples: every tree test runs both ways.
WALKS = pytest.mark.parametrize("budget", [trees.NODE_BUDGET, 0], ids=["compiled", "walked"])


@WALKS
@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("targets", [1, 3])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_tree_regressor(
    aggregate: str, targets: int, dtype: int, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trees, "NODE_BUDGET", budget)
    rng = np.random.default_rng(14 + targets)
    forest = random_forest(
        rng, 7, 4, targets, ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"], True, "all"
    )
    attrs = {f"nodes_{k}": v for k, v in forest["nodes"].items()}
    attrs.update({f"target_{k}": v for k, v in forest["leaves"].items()})
    node = ml(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        n_targets=targets,
        aggregate_function=aggregate,
        base_values=[0.25] * targets,
        **attrs,
    )
    m = model([node], [("x", dtype, [None, 4])], [("y", F32)])
    x = np.round(matrix(40, 4, np.float64, rng, 0.2), 1)  # values on the thresholds' grid
    check(m, {"x": x.astype(NP[dtype])})


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize(
    "classes,leaves,base",
    [(2, "all", 0), (2, "one", 1), (2, "one", 2), (3, "all", 0), (3, "one", 3), (3, "some", 0)],
)
@WALKS
def test_tree_classifier(
    transform: str,
    classes: int,
    leaves: str,
    base: int,
    budget: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trees, "NODE_BUDGET", budget)
    rng = np.random.default_rng(20 + classes)
    forest = random_forest(
        rng,
        6,
        3,
        classes if leaves != "one" or classes > 2 else 1,
        ["BRANCH_LEQ", "BRANCH_GT"],
        True,
        leaves,
    )
    if transform == "PROBIT":  # defined on [0, 1]: keep the scores there
        forest["leaves"]["weights"] = [abs(w) / 20 for w in forest["leaves"]["weights"]]
    attrs = {f"nodes_{k}": v for k, v in forest["nodes"].items()}
    attrs.update({f"class_{k}": v for k, v in forest["leaves"].items()})
    if base:
        attrs["base_values"] = [0.1 * (k + 1) for k in range(base)]
    node = ml(
        "TreeEnsembleClassifier",
        ["x"],
        ["l", "p"],
        post_transform=transform,
        classlabels_int64s=list(range(classes)),
        **attrs,
    )
    m = model([node], [("x", F32, [None, 3])], [("l", I64), ("p", F32)])
    if classes == 2 and leaves == "one" and transform == "PROBIT":  # second column undefined
        with pytest.raises(UnsupportedGraph, match="PROBIT with one score column"):
            compile_model(m)
        return
    check(m, {"x": np.round(matrix(40, 3, np.float32, rng, 0.2), 1)})


def test_compiled_trees_give_the_walked_leaves_in_tree_order() -> None:
    """Compiled trees give every tree's leaf in tree order, NaN and infinite thresholds route as
    ``<`` does, and a forest over the node budget is not compiled."""
    nan, inf = math.nan, math.inf
    small = (0, 0.5, 1.0, 2.0)
    other = (1, -inf, (0, nan, 3.0, 4.0), [(1, 5.0)])
    forest = [small, other, 7.0, *[(i % 2, 0.25 * i, float(i), -float(i)) for i in range(20)]]
    forest += [other, small, (2, inf, 8.0, 9.0)]

    def walk(n: Any, xs: list[float]) -> Any:
        while type(n) is tuple:
            n = n[2] if xs[n[0]] < n[1] else n[3]
        return tuple(n) if type(n) is list else n  # compiled pair leaves are tuples

    leaves = trees.compile_trees(forest)
    assert leaves is not None
    rng = np.random.default_rng(9)
    for xs in [[nan, nan, nan], [inf, -inf, 0.0], *rng.normal(0, 2, (30, 3)).tolist()]:
        assert list(leaves(xs)) == [walk(t, xs) for t in forest]
    assert trees.compile_trees(forest, budget=2) is None


def test_tree_ensemble_refuses_branch_eq() -> None:
    node = ml(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        n_targets=1,
        nodes_treeids=[0, 0, 0],
        nodes_nodeids=[0, 1, 2],
        nodes_featureids=[0, 0, 0],
        nodes_modes=["BRANCH_EQ", "LEAF", "LEAF"],
        nodes_values=[1.0, 0.0, 0.0],
        nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 0, 0],
        target_treeids=[0, 0],
        target_nodeids=[1, 2],
        target_ids=[0, 0],
        target_weights=[1.0, 2.0],
    )
    m = model([node], [("x", F32, [None, 1])], [("y", F32)])
    assert unsupported_ops(m) == ["ai.onnx.ml:TreeEnsembleRegressor nodes_modes=BRANCH_EQ"]
    with pytest.raises(UnsupportedGraph, match="BRANCH_EQ"):
        compile_model(m)


# -- text ---------------------------------------------------------------------------------------

TEXTS = [
    "I was charged TWICE this month",
    "the App crashes",
    "",
    "refund refund my invoice",
    "Reset my password, please!",
    "über café",
]


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
@pytest.mark.parametrize("grams,skip", [((1, 1), 0), ((1, 2), 0), ((2, 3), 1)])
def test_text_pipeline(mode: str, grams: tuple[int, int], skip: int) -> None:
    pool_1 = ["refund", "my", "the", "app", "i", "password"]
    pool_2 = ["refund", "refund", "refund", "my", "the", "app", "my", "password"]
    pool_3 = ["i", "was", "charged", "refund", "my", "invoice"]
    pool = pool_1 + pool_2 + pool_3
    counts = [0, len(pool_1), len(pool_1) + len(pool_2)]
    n = len(pool_1) + len(pool_2) // 2 + len(pool_3) // 3
    nodes = [
        helper.make_node("Reshape", ["t2", "flat"], ["t"]),
        helper.make_node(
            "StringNormalizer",
            ["t"],
            ["low"],
            case_change_action="LOWER",
            is_case_sensitive=0,
            locale="C",
            stopwords=["THIS"],
        ),
        helper.make_node(
            "Tokenizer",
            ["low"],
            ["tok"],
            domain="com.microsoft",
            mark=0,
            mincharnum=1,
            pad_value="#",
            tokenexp="[a-zA-Z0-9_]+",
        ),
        helper.make_node(
            "TfIdfVectorizer",
            ["tok"],
            ["v"],
            mode=mode,
            min_gram_length=grams[0],
            max_gram_length=grams[1],
            max_skip_count=skip,
            ngram_counts=counts,
            ngram_indexes=list(range(n))[::-1],
            pool_strings=pool,
            weights=[0.5 + i / 10 for i in range(n)],
        ),
    ]
    flat = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    m = model(nodes, [("t2", STR, [None, 1])], [("v", F32)], [flat])
    for rows in (TEXTS, TEXTS[:1]):
        check(m, {"t2": np.array(rows, dtype=object).reshape(-1, 1)})


def test_tokenizer_separators_and_marks() -> None:
    nodes = [
        helper.make_node(
            "Tokenizer",
            ["t"],
            ["tok"],
            domain="com.microsoft",
            mark=1,
            mincharnum=2,
            pad_value="#",
            separators=[" ", ","],
        )
    ]
    m = model(nodes, [("t", STR, [None, 1])], [("tok", STR)])
    check(m, {"t": np.array([["a bc,def"], ["gh ij"], ["x"]], dtype=object)})
