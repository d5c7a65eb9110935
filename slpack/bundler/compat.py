"""Fixes for known skl2onnx converter bugs, as registrations scoped to one conversion.

Each fix wraps skl2onnx's own converter (never the user's model, never a converter the user
registered), handles only the case that is wrong, and hands every other case to the stock
converter; :mod:`slpack.bundler.registry` installs them for one ``convert()`` and restores the
stock converters, declared options included, afterwards.
"""

from __future__ import annotations

import copy
from typing import Any

from slpack.bundler.registry import Converter, Registration


def fixes() -> list[Registration]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.impute import SimpleImputer

    return [
        Registration(SimpleImputer, "SklearnSimpleImputer", _float64_imputer, replaces_stock=True),
        Registration(
            TfidfTransformer, "SklearnTfidfTransformer", _sublinear_tf, replaces_stock=True
        ),
        *(
            Registration(cls, f"Sklearn{cls.__name__}", _int_missing_flags, replaces_stock=True)
            for cls in (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
        ),
    ]


def _int_missing_flags(original: Converter | None) -> Converter:
    """HistGradientBoosting with protobuf >= 7: "Expected an int, got a boolean".

    skl2onnx's tree-ensemble helper passes ``missing = False`` (a Python bool) for leaf nodes
    into the ``nodes_missing_value_tracks_true`` ints attribute; protobuf 7 rejects bools in int
    fields where protobuf 6 silently took them. While the stock converter runs, the helper it
    calls coerces the flag to int.
    """
    assert original is not None

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from skl2onnx.common import tree_ensemble

        add_node = tree_ensemble.add_node

        def coerced(*args: Any, **kwargs: Any) -> Any:
            flag = kwargs.get("nodes_missing_value_tracks_true")
            if flag is not None:
                kwargs["nodes_missing_value_tracks_true"] = int(flag)
            return add_node(*args, **kwargs)

        tree_ensemble.add_node = coerced
        try:
            original(scope, operator, container)
        finally:
            tree_ensemble.add_node = add_node

    return convert


def _float64_imputer(original: Converter | None) -> Converter:
    """SimpleImputer on float64 inputs, which the ONNX ``Imputer`` op has no kernel for.

    slpack feeds float64 where float32 would change a tree's answer (see the rewrites), and the
    numeric imputer usually sits first in those pipelines. NaN replacement is ``Where(IsNaN(x),
    statistics, x)`` in standard ONNX ops, exact in float64; every other case (float32, strings,
    non-NaN markers, dropped all-missing columns) goes to skl2onnx's own converter.
    """
    import numpy as np

    assert original is not None

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from skl2onnx.algebra.onnx_ops import OnnxIsNaN, OnnxWhere
        from skl2onnx.common.data_types import DoubleTensorType

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

    return convert


def _sublinear_tf(original: Converter | None) -> Converter:
    """``sublinear_tf=True``: scikit-learn computes ``1 + log(tf)``, skl2onnx ``log(tf + 1)``.

    The two differ for every non-zero count (1 + log 1 = 1, log 2 = 0.69), which the parity gate
    caught on a plain TfidfVectorizer. Compute scikit-learn's formula (zeros stay zero) in
    standard ops, then hand the stock converter the result with sublinear scaling turned off.
    """
    import numpy as np

    assert original is not None

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxGreater, OnnxLog, OnnxWhere
        from skl2onnx.common.data_types import guess_numpy_type

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

    return convert
