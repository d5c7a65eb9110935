"""Converters slpack adds to skl2onnx's for steps teams ship every day.

- ``FunctionTransformer`` with a numpy ufunc (log1p, log, exp, expm1, sqrt, square, abs, clip,
  reciprocal), the identity, or ``functools.partial`` of one with keyword arguments; anything else
  is refused, naming the function and the sklearn runtime.
- ``TransformedTargetRegressor``: the regressor, then the inverse of its target transform (an
  inverse function above, or a StandardScaler).
- ``MissingIndicator`` (also what ``SimpleImputer(add_indicator=True)`` becomes, see rewrites).

They are registered for one conversion by :mod:`slpack.bundler.registry`; a converter the user
registered for the same class stands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from slpack.bundler.registry import Registration, fixed
from slpack.errors import ConversionError
from slpack_handler.contract import MISSING_STRING

Apply = Callable[[Any, int, Any, dict[str, Any]], Any]  # (x, opset, dtype, kwargs) -> node


def _ops() -> Any:
    from skl2onnx.algebra import onnx_ops

    return onnx_ops


def _log1p(x: Any, opv: int, dtype: Any, kw: dict[str, Any]) -> Any:
    ops = _ops()
    return ops.OnnxLog(ops.OnnxAdd(x, np.array([1], dtype=dtype), op_version=opv), op_version=opv)


def _expm1(x: Any, opv: int, dtype: Any, kw: dict[str, Any]) -> Any:
    ops = _ops()
    return ops.OnnxSub(ops.OnnxExp(x, op_version=opv), np.array([1], dtype=dtype), op_version=opv)


def _square(x: Any, opv: int, dtype: Any, kw: dict[str, Any]) -> Any:
    return _ops().OnnxMul(x, x, op_version=opv)


def _clip(x: Any, opv: int, dtype: Any, kw: dict[str, Any]) -> Any:
    low = kw.get("a_min", kw.get("min"))
    high = kw.get("a_max", kw.get("max"))
    bounds = [
        np.array(bound if bound is not None else default, dtype=dtype)
        for bound, default in ((low, -np.inf), (high, np.inf))
    ]
    return _ops().OnnxClip(x, *bounds, op_version=opv)


def _unary(name: str) -> Apply:
    def apply(x: Any, opv: int, dtype: Any, kw: dict[str, Any]) -> Any:
        return getattr(_ops(), name)(x, op_version=opv)

    return apply


_UFUNCS: dict[Any, Apply] = {
    np.log1p: _log1p,
    np.log: _unary("OnnxLog"),
    np.exp: _unary("OnnxExp"),
    np.expm1: _expm1,
    np.sqrt: _unary("OnnxSqrt"),
    np.square: _square,
    np.abs: _unary("OnnxAbs"),
    np.reciprocal: _unary("OnnxReciprocal"),
    np.clip: _clip,
}


def function_node(func: Any, kw_args: dict[str, Any] | None, x: Any, opv: int, dtype: Any) -> Any:
    """``func(x, **kw_args)`` as ONNX nodes; ConversionError naming the function otherwise."""
    kw = dict(kw_args or {})
    if isinstance(func, functools.partial) and not func.args:
        kw = {**func.keywords, **kw}
        func = func.func
    if func is None:
        return _ops().OnnxIdentity(x, op_version=opv)
    apply = _UFUNCS.get(func)
    if apply is None or (kw and func is not np.clip):
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
        raise ConversionError(
            f"the FunctionTransformer runs {name}, which ONNX cannot express (slpack converts "
            "the numpy ufuncs log1p, log, exp, expm1, sqrt, square, abs, clip and reciprocal); "
            "build with --runtime sklearn to serve the pipeline as it is."
        )
    return apply(x, opv, dtype, kw)


def _float_type(variable: Any) -> Any:
    from skl2onnx.common.data_types import DoubleTensorType

    return np.float64 if isinstance(variable.type, DoubleTensorType) else np.float32


def _single_input(scope: Any, operator: Any, container: Any) -> Any:
    """The operator's input, its columns concatenated when skl2onnx hands several."""
    if len(operator.inputs) == 1:
        return operator.inputs[0]
    return _ops().OnnxConcat(*operator.inputs, axis=1, op_version=container.target_opset)


def convert_function_transformer(scope: Any, operator: Any, container: Any) -> None:
    est = operator.raw_operator
    opv = container.target_opset
    x = _single_input(scope, operator, container)
    dtype = _float_type(operator.inputs[0])
    node = function_node(est.func, est.kw_args, x, opv, dtype)
    _ops().OnnxIdentity(node, op_version=opv, output_names=operator.outputs[:1]).add_to(
        scope, container
    )


def convert_transformed_target(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator

    est = operator.raw_operator
    opv = container.target_opset
    x = operator.inputs[0]
    dtype = _float_type(operator.outputs[0])
    predicted = OnnxSubEstimator(est.regressor_, x, op_version=opv)
    node = _inverse(est.transformer_, predicted, opv, dtype)
    _ops().OnnxIdentity(node, op_version=opv, output_names=operator.outputs[:1]).add_to(
        scope, container
    )


def _inverse(transformer: Any, y: Any, opv: int, dtype: Any) -> Any:
    name = type(transformer).__name__
    if name == "FunctionTransformer":
        return function_node(transformer.inverse_func, transformer.inv_kw_args, y, opv, dtype)
    if name == "StandardScaler":
        ops = _ops()
        scale = np.asarray(
            transformer.scale_ if transformer.scale_ is not None else [1.0], dtype=dtype
        )
        mean = np.asarray(
            transformer.mean_ if transformer.mean_ is not None else [0.0], dtype=dtype
        )
        return ops.OnnxAdd(ops.OnnxMul(y, scale, op_version=opv), mean, op_version=opv)
    raise ConversionError(
        f"the TransformedTargetRegressor inverts its target with {name}, which slpack cannot "
        "convert (a FunctionTransformer of numpy ufuncs or a StandardScaler can); build with "
        "--runtime sklearn to serve the pipeline as it is."
    )


def convert_missing_indicator(scope: Any, operator: Any, container: Any) -> None:
    """IsNaN (or equality with the missing marker) on the columns the indicator kept, as the
    input's float type: scikit-learn's booleans become numbers wherever they are used."""
    est = operator.raw_operator
    ops = _ops()
    opv = container.target_opset
    x = _single_input(scope, operator, container)
    missing = est.missing_values
    if (isinstance(missing, float) and np.isnan(missing)) or missing is None:
        if _is_string(operator.inputs[0]):
            flags = ops.OnnxEqual(x, np.array([MISSING_STRING]), op_version=opv)
        else:
            flags = ops.OnnxIsNaN(x, op_version=opv)
    else:
        flags = ops.OnnxEqual(x, np.array([missing]).astype(_marker_type(operator)), op_version=opv)
    kept = ops.OnnxGather(flags, np.asarray(est.features_, dtype=np.int64), axis=1, op_version=opv)
    dtype = _float_type(operator.outputs[0])
    ops.OnnxCast(
        kept, to=_onnx_type(dtype), op_version=opv, output_names=operator.outputs[:1]
    ).add_to(scope, container)


def _is_string(variable: Any) -> bool:
    from skl2onnx.common.data_types import StringTensorType

    return isinstance(variable.type, StringTensorType)


def _marker_type(operator: Any) -> Any:
    return object if _is_string(operator.inputs[0]) else _float_type(operator.inputs[0])


def _onnx_type(dtype: Any) -> int:
    from onnx import TensorProto

    return TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT


def function_transformer_shape(operator: Any) -> None:
    """Element-wise: the inputs' type, their widths added (skl2onnx's own refuses any func)."""
    import copy

    widths = [v.type.shape[1] for v in operator.inputs]
    operator.outputs[0].type = copy.deepcopy(operator.inputs[0].type)
    operator.outputs[0].type.shape = [
        operator.inputs[0].get_first_dimension(),
        None if None in widths else sum(widths),
    ]


def missing_indicator_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    width = len(operator.raw_operator.features_)
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    operator.outputs[0].type = (DoubleTensorType if double else FloatTensorType)([n, width])


def registrations() -> list[Registration]:
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.impute import MissingIndicator
    from sklearn.preprocessing import FunctionTransformer

    return [
        Registration(
            FunctionTransformer,
            "SklearnFunctionTransformer",
            fixed(convert_function_transformer),
            function_transformer_shape,
            replaces_stock=True,
        ),
        Registration(
            TransformedTargetRegressor,
            "SlpackTransformedTargetRegressor",
            fixed(convert_transformed_target),
            calculate_linear_regressor_output_shapes,
        ),
        Registration(
            MissingIndicator,
            "SlpackMissingIndicator",
            fixed(convert_missing_indicator),
            missing_indicator_shape,
        ),
    ]
