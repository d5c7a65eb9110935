"""Converter registrations are scoped to one conversion and never clobber a user's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from slpack.bundler import build_bundle, registry


def _converter_and_options(cls: type) -> tuple[Any, dict[str, Any] | None]:
    _, converter, _ = registry.current(cls)
    return converter._fct, converter.get_allowed_options()


def test_a_build_leaves_skl2onnx_as_it_found_it(tmp_path: Path) -> None:
    before = {cls: _converter_and_options(cls) for cls in (TfidfTransformer, SimpleImputer)}
    texts = pd.DataFrame({"text": ["good day", "bad day", "good food", "bad food"] * 5})
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression())
    build_bundle(model.fit(texts["text"], [1, 0, 1, 0] * 5), texts, tmp_path, name="t")
    after = {cls: _converter_and_options(cls) for cls in before}
    assert after == before
    assert registry.is_stock(after[TfidfTransformer][0])
    assert "nan" in (after[TfidfTransformer][1] or {})  # the declared option is usable again


def test_declared_options_work_inside_the_scope() -> None:
    from skl2onnx import to_onnx

    from slpack.bundler import compat

    X = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]], dtype=np.float32)
    tfidf = TfidfTransformer(sublinear_tf=True).fit(X)
    with registry.scoped(compat.fixes()):
        onx = to_onnx(tfidf, X, options={id(tfidf): {"nan": True}})
    assert onx.graph.node


@pytest.fixture
def user_function_converter() -> Iterator[list[str]]:
    """A user's own FunctionTransformer converter (what a --converters module registers)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import OnnxIdentity, OnnxMul

    calls: list[str] = []
    alias, stock, shape = registry.current(FunctionTransformer)
    options = stock.get_allowed_options()

    def user_convert(scope: Any, operator: Any, container: Any) -> None:
        calls.append(operator.raw_operator.func.__name__)
        opv = container.target_opset
        doubled = OnnxMul(operator.inputs[0], np.array([2], dtype=np.float32), op_version=opv)
        OnnxIdentity(doubled, op_version=opv, output_names=operator.outputs[:1]).add_to(
            scope, container
        )

    def user_shape(operator: Any) -> None:
        operator.outputs[0].type = operator.inputs[0].type.__class__(operator.inputs[0].type.shape)

    update_registered_converter(FunctionTransformer, alias, user_shape, user_convert)
    try:
        yield calls
    finally:
        update_registered_converter(FunctionTransformer, alias, shape, stock._fct, options=options)


def double(x: Any) -> Any:
    return x * 2


def test_a_users_converter_stands(tmp_path: Path, user_function_converter: list[str]) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    y = X["a"] * 3 - X["b"]
    model = make_pipeline(FunctionTransformer(double), Ridge()).fit(X, y)
    result = build_bundle(model, X, tmp_path, name="users", runtime="onnxruntime")
    assert result.parity.passed
    assert user_function_converter == ["double"]
