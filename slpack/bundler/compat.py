"""Work-arounds for known converter bugs, each narrow, idempotent and tested.

They patch the converter (never the user's model), so a fixed upstream release makes them
no-ops rather than conflicts.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

_applied = False


def apply() -> None:
    """Install every work-around once per process."""
    global _applied
    if _applied:
        return
    _applied = True
    _hist_gradient_boosting_bool_attribute()
    _float64_imputer()
    _sublinear_tf()


def _hist_gradient_boosting_bool_attribute() -> None:
    """HistGradientBoosting with protobuf >= 7: "Expected an int, got a boolean".

    skl2onnx's tree-ensemble helper passes ``missing = False`` (a Python bool) for leaf nodes
    into the ``nodes_missing_value_tracks_true`` ints attribute; protobuf 7 rejects bools in int
    fields where protobuf 6 silently took them. Coerce the flag to int before it is stored.
    """
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node
    if getattr(original, "_slpack_patched", False):
        return

    @functools.wraps(original)
    def add_node(*args: Any, **kwargs: Any) -> Any:
        flag = kwargs.get("nodes_missing_value_tracks_true")
        if flag is not None:
            kwargs["nodes_missing_value_tracks_true"] = int(flag)
        return original(*args, **kwargs)

    add_node._slpack_patched = True  # type: ignore[attr-defined]
    tree_ensemble.add_node = add_node


def _float64_imputer() -> None:
    """SimpleImputer on float64 inputs, which the ONNX ``Imputer`` op has no kernel for.

    slpack feeds float64 where float32 would change a tree's answer (see the rewrites), and the
    numeric imputer usually sits first in those pipelines. NaN replacement is ``Where(IsNaN(x),
    statistics, x)`` in standard ONNX ops, exact in float64; every other case (float32, strings,
    non-NaN markers, dropped all-missing columns) goes to skl2onnx's own converter.
    """
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxIsNaN, OnnxWhere
    from skl2onnx.common._registration import get_converter, register_converter
    from skl2onnx.common.data_types import DoubleTensorType

    original = get_converter("SklearnSimpleImputer")
    if getattr(original, "_slpack_patched", False):
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        est = operator.raw_operator
        stats = np.asarray(getattr(est, "statistics_", []), dtype=object)
        missing = est.missing_values
        nan_marker = missing is None or (isinstance(missing, float) and np.isnan(missing))
        usable = (
            len(operator.inputs) == 1
            and isinstance(operator.inputs[0].type, DoubleTensorType)
            and nan_marker
            and stats.size
            and not np.isnan(stats.astype(np.float64)).any()
        )
        if not usable:
            original(scope, operator, container)
            return
        opv = container.target_opset
        x = operator.inputs[0]
        fill = stats.astype(np.float64).reshape(1, -1)
        node = OnnxWhere(
            OnnxIsNaN(x, op_version=opv), fill, x, op_version=opv, output_names=operator.outputs[:1]
        )
        node.add_to(scope, container)

    convert._slpack_patched = True  # type: ignore[attr-defined]
    for name in ("SklearnSimpleImputer", "SklearnImputer"):
        register_converter(name, convert, overwrite=True)


def _sublinear_tf() -> None:
    """``sublinear_tf=True``: scikit-learn computes ``1 + log(tf)``, skl2onnx ``log(tf + 1)``.

    The two differ for every non-zero count (1 + log 1 = 1, log 2 = 0.69), which the parity gate
    caught on a plain TfidfVectorizer. Compute scikit-learn's formula (zeros stay zero) in
    standard ops, then hand the stock converter the result with sublinear scaling turned off.
    """
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxGreater, OnnxLog, OnnxWhere
    from skl2onnx.common._registration import get_converter, register_converter
    from skl2onnx.common.data_types import guess_numpy_type

    original = get_converter("SklearnTfidfTransformer")
    if getattr(original, "_slpack_patched", False):
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        est = operator.raw_operator
        if not getattr(est, "sublinear_tf", False):
            original(scope, operator, container)
            return
        x = operator.inputs[0]
        dtype = guess_numpy_type(x.type)
        dtype = dtype if dtype == np.float64 else np.float32
        opv = container.target_opset
        scaled = scope.declare_local_variable("slpack_sublinear_tf", x.type.__class__(x.type.shape))
        zero, one = np.array([0], dtype=dtype), np.array([1], dtype=dtype)
        node = OnnxWhere(
            OnnxGreater(x, zero, op_version=opv),
            OnnxAdd(OnnxLog(x, op_version=opv), one, op_version=opv),
            zero,
            op_version=opv,
            output_names=[scaled],
        )
        node.add_to(scope, container)
        plain = copy.copy(est)
        plain.sublinear_tf = False
        saved = operator.raw_operator, operator.inputs
        operator.raw_operator, operator.inputs = plain, [scaled]
        try:
            original(scope, operator, container)
        finally:
            operator.raw_operator, operator.inputs = saved

    convert._slpack_patched = True  # type: ignore[attr-defined]
    register_converter("SklearnTfidfTransformer", convert, overwrite=True)
