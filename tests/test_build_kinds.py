"""The pipelines teams deploy, each built with no flag (or the one its refusal names) and
answered by the bundled handler in isolation (only the bundle and its runtime's packages
importable) the way scikit-learn answers.

One case per kind of the coverage issue: boosting libraries as final step, behind scalers and in
meta-estimators; numpy ufuncs and target transforms; missing indicators; one-hot on strings with
NaN; column transformers passing integers to boosters; outlier detectors; multi-output and
multi-label models; text with bigrams and non-ASCII words; dropped columns; and the sklearn
runtime for what ONNX cannot express (native categoricals, splines, normal quantiles, char_wb,
hashing), with refusals that name it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import invoke_isolated
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestRegressor,
    StackingRegressor,
)
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    QuantileTransformer,
    SplineTransformer,
    StandardScaler,
)

from slpack.bundler import build_bundle, introspect
from slpack.errors import SlpackError

lightgbm = pytest.importorskip("lightgbm")
xgboost = pytest.importorskip("xgboost")
pytest.importorskip("onnxmltools")

pytestmark = pytest.mark.slow
ROWS = 10  # request rows per case
Case = tuple[Any, pd.DataFrame]


def _frame(n: int = 300, seed: int = 5) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "amount": rng.lognormal(3, 0.7, n).round(2),
            "ratio": rng.uniform(0, 1, n).round(4),
            "visits": rng.integers(0, 30, n),
            "tenure": rng.integers(1, 120, n),
            "plan": rng.choice(["basic", "plus", "pro", None], n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )
    X["plan"] = X["plan"].where(X["plan"].notna(), np.nan)
    X.loc[rng.random(n) < 0.08, "amount"] = np.nan
    score = 0.05 * X["visits"] - 1.5 * X["ratio"] + (X["plan"] == "pro") * 0.8
    label = pd.Series((score + rng.normal(0, 0.4, n) > 0.3).astype(int), name="label")
    value = pd.Series(X["amount"].fillna(20) * (1 + X["ratio"]) + X["visits"], name="value")
    return X, label, value


NUMS = ["amount", "ratio", "visits", "tenure"]


def _numeric() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    X, label, value = _frame()
    return X[NUMS].fillna(1.0), label, value


def _three_classes(label: pd.Series, X: pd.DataFrame) -> pd.Series:
    return label + (X["tenure"] > 80).astype(int)


def _prep() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMS),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )


# -- the cases: name -> (factory, what build_bundle is asked, the runtime that must answer) --


def lgbm_binary() -> Case:
    X, y, _ = _frame()
    model = Pipeline(
        [("prep", _prep()), ("gbm", lightgbm.LGBMClassifier(n_estimators=25, verbose=-1))]
    )
    return model.fit(X, y), X


def lgbm_regressor() -> Case:
    X, _, v = _numeric()
    model = make_pipeline(StandardScaler(), lightgbm.LGBMRegressor(n_estimators=25, verbose=-1))
    return model.fit(X, v), X


def xgb_multiclass_scaler() -> Case:
    X, y, _ = _numeric()
    model = make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=20, max_depth=3))
    return model.fit(X, _three_classes(y, X)), X


def xgb_stacking_scaler() -> Case:
    X, _, v = _numeric()
    stack = StackingRegressor(
        [("xgb", xgboost.XGBRegressor(n_estimators=20, max_depth=3)), ("ridge", Ridge())],
        final_estimator=Ridge(),
    )
    return make_pipeline(StandardScaler(), stack).fit(X, v), X


def log1p_ridge() -> Case:
    X, _, v = _numeric()
    clip = functools.partial(np.clip, a_min=0.0, a_max=50.0)
    model = make_pipeline(
        FunctionTransformer(np.log1p), FunctionTransformer(clip), StandardScaler(), Ridge()
    )
    return model.fit(X, v), X


def log_target_gbr() -> Case:
    X, _, v = _numeric()
    model = TransformedTargetRegressor(
        GradientBoostingRegressor(n_estimators=20, random_state=0), func=np.log, inverse_func=np.exp
    )
    return model.fit(X, v), X


def imputer_add_indicator() -> Case:
    X, y, _ = _frame()
    ct = ColumnTransformer([("num", SimpleImputer(add_indicator=True), NUMS)])
    return Pipeline([("prep", ct), ("lr", LogisticRegression(max_iter=500))]).fit(X, y), X


def missing_indicator_union() -> Case:
    X, y, _ = _frame()
    union = FeatureUnion([("imputed", SimpleImputer()), ("missing", MissingIndicator())])
    ct = ColumnTransformer([("num", union, NUMS)])
    return Pipeline([("prep", ct), ("lr", LogisticRegression(max_iter=500))]).fit(X, y), X


def one_hot_nan_strings() -> Case:
    X, y, _ = _frame()
    ct = ColumnTransformer(
        [("num", SimpleImputer(), NUMS), ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])]
    )
    return Pipeline([("prep", ct), ("lr", LogisticRegression(max_iter=500))]).fit(X, y), X


def passthrough_ints(regressor: Any) -> Callable[[], Case]:
    def make() -> Case:
        X, _, v = _frame()
        ct = ColumnTransformer(
            [
                ("floats", make_pipeline(SimpleImputer(), StandardScaler()), ["amount", "ratio"]),
                ("ints", "passthrough", ["visits", "tenure"]),
            ]
        )
        return Pipeline([("prep", ct), ("model", regressor)]).fit(X, v), X

    return make


def isolation_forest() -> Case:
    X, _, _ = _numeric()
    return IsolationForest(n_estimators=30, random_state=0).fit(X), X


def multi_output_trees() -> Case:
    X, _, v = _numeric()
    y = np.c_[v, v * 0.5 + X["visits"]]
    model = make_pipeline(
        StandardScaler(), MultiOutputRegressor(RandomForestRegressor(15, random_state=0))
    )
    return model.fit(X, y), X


def multi_label() -> Case:
    X, y, _ = _numeric()
    labels = np.c_[y, (X["tenure"] > 60).astype(int)]
    model = make_pipeline(StandardScaler(), MultiOutputClassifier(LogisticRegression()))
    return model.fit(X, labels), X


REVIEWS = [
    ("great product fast delivery", "pos"),
    ("terrible quality broke after a day", "neg"),
    ("café au lait mug is lovely", "pos"),
    ("not worth the money at all", "neg"),
    ("très bien livraison rapide", "pos"),
    ("arrived damaged and a week late", "neg"),
]


def _reviews() -> tuple[pd.DataFrame, pd.Series]:
    texts = [f"{t} {'really' if i % 2 else ''}".strip() for i in range(10) for t, _ in REVIEWS]
    labels = [label for _ in range(10) for _, label in REVIEWS]
    return pd.DataFrame({"review": texts}), pd.Series(labels)


def text(vectorizer: Any) -> Callable[[], Case]:
    def make() -> Case:
        X, y = _reviews()
        ct = ColumnTransformer([("text", vectorizer, "review")])
        return Pipeline([("prep", ct), ("lr", LogisticRegression(max_iter=500))]).fit(X, y), X

    return make


def dropped_columns() -> Case:
    X, y, _ = _frame()
    ct = ColumnTransformer(
        [("num", make_pipeline(SimpleImputer(), StandardScaler()), ["amount", "visits"])],
        remainder="drop",
    )
    return Pipeline([("prep", ct), ("lr", LogisticRegression(max_iter=500))]).fit(X, y), X


def _categorical_frame() -> tuple[pd.DataFrame, pd.Series]:
    X, y, _ = _frame()
    frame = X[["ratio", "visits", "plan"]].copy()
    frame["plan"] = frame["plan"].fillna("basic").astype("category")
    return frame, y


def hgb_from_dtype() -> Case:
    X, y = _categorical_frame()
    model = HistGradientBoostingClassifier(max_iter=15, categorical_features="from_dtype")
    return model.fit(X, y), X


def lgbm_native_categorical() -> Case:
    X, y = _categorical_frame()
    return lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(X, y), X


def spline_ridge() -> Case:
    X, _, v = _numeric()
    return make_pipeline(SplineTransformer(n_knots=4), Ridge()).fit(X, v), X


def quantile_normal() -> Case:
    X, y, _ = _numeric()
    model = make_pipeline(
        QuantileTransformer(n_quantiles=50, output_distribution="normal"), LogisticRegression()
    )
    return model.fit(X, y), X


ONNX: dict[str, Callable[[], Case]] = {
    "lgbm-binary": lgbm_binary,
    "lgbm-regressor": lgbm_regressor,
    "xgb-multiclass-behind-scaler": xgb_multiclass_scaler,
    "xgb-in-stacking-behind-scaler": xgb_stacking_scaler,
    "log1p-clip-ridge": log1p_ridge,
    "log-target-gbr": log_target_gbr,
    "imputer-add-indicator": imputer_add_indicator,
    "missing-indicator-union": missing_indicator_union,
    "one-hot-nan-strings": one_hot_nan_strings,
    "passthrough-ints-gbr": passthrough_ints(GradientBoostingRegressor(n_estimators=20)),
    "passthrough-ints-hgbr": passthrough_ints(HistGradientBoostingRegressor(max_iter=20)),
    "isolation-forest": isolation_forest,
    "multi-output-trees-behind-scaler": multi_output_trees,
    "multi-label": multi_label,
    "tfidf-bigrams-non-ascii": text(TfidfVectorizer(ngram_range=(1, 2))),
    "dropped-columns": dropped_columns,
}
# Refused by plain `slpack build` with a message naming --runtime sklearn, then served by it.
SKLEARN: dict[str, Callable[[], Case]] = {
    "hgb-categorical-from-dtype": hgb_from_dtype,
    "lgbm-native-categorical": lgbm_native_categorical,
    "spline-ridge": spline_ridge,
    "quantile-normal": quantile_normal,
    "count-char-wb": text(CountVectorizer(analyzer="char_wb", ngram_range=(2, 3))),
    "hashing-vectorizer": text(HashingVectorizer(n_features=64)),
}


# -- what scikit-learn answers, as the response carries it ------------------------------------


def _json(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def expected_predictions(model: Any, task: str, rows: Any) -> list[dict[str, Any]]:
    if task == introspect.CLASSIFIER:
        labels, proba = model.predict(rows), model.predict_proba(rows)
        keys = [str(_json(c)) for c in model.classes_]
        return [
            {"label": _json(label), "probabilities": dict(zip(keys, map(float, p)))}
            for label, p in zip(labels, proba)
        ]
    if task == introspect.MULTILABEL:
        labels, per_target = model.predict(rows), model.predict_proba(rows)
        classes = introspect.final_estimator(model).classes_
        return [
            {
                "label": [_json(v) for v in labels[i]],
                "probabilities": [
                    dict(zip([str(_json(c)) for c in cls], map(float, p[i])))
                    for cls, p in zip(classes, per_target)
                ],
            }
            for i in range(len(labels))
        ]
    if task == introspect.OUTLIER:
        return [
            {"label": int(label), "score": float(score)}
            for label, score in zip(model.predict(rows), model.decision_function(rows))
        ]
    values = np.asarray(model.predict(rows), dtype=float)
    if values.ndim == 2 and values.shape[1] > 1:
        return [{"value": list(row)} for row in values]
    return [{"value": float(v)} for v in values.ravel()]


def _close(got: Any, want: Any) -> None:
    if isinstance(want, dict):
        assert set(got) == set(want), (got, want)
        for key in want:
            _close(got[key], want[key])
    elif isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-4, abs=2e-5)
    else:
        assert got == want


def _record(row: pd.Series, keep: list[str]) -> dict[str, Any]:
    out = {}
    for key in keep:
        value = row[key]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        out[key] = None if missing else _json(value)
    return out


def answers_like_sklearn(model: Any, sample: pd.DataFrame, result: Any, tmp: Path) -> None:
    manifest = json.loads((result.bundle_dir / "slpack.json").read_text())
    sent = [f["name"] for f in manifest["input"]["features"]]  # ignored columns are not sent
    rows = sample.head(ROWS)
    body = {"instances": [_record(r, sent) for _, r in rows.iterrows()]}
    (response,) = invoke_isolated(result.bundle_dir, [body], tmp)
    assert "predictions" in response, response
    _close(response["predictions"], expected_predictions(model, manifest["task"], rows))


@pytest.mark.parametrize("case", sorted(ONNX))
def test_builds_plain_and_answers_like_sklearn(case: str, tmp_path: Path) -> None:
    model, sample = ONNX[case]()
    result = build_bundle(model, sample, tmp_path / "dist", name=case)
    assert result.manifest["runtime"]["name"] in ("python", "onnxruntime")
    answers_like_sklearn(model, sample, result, tmp_path)


@pytest.mark.parametrize("case", sorted(SKLEARN))
def test_refusal_names_the_sklearn_runtime_which_serves_it(case: str, tmp_path: Path) -> None:
    model, sample = SKLEARN[case]()
    with pytest.raises(SlpackError) as refused:
        build_bundle(model, sample, tmp_path / "dist", name=case)
    message = str(refused.value)
    assert "--runtime sklearn" in message and "Traceback" not in message
    assert "--atol" not in message  # disagreeing answers are never a tolerance matter
    result = build_bundle(model, sample, tmp_path / "dist", name=case, runtime="sklearn")
    manifest = result.manifest
    assert manifest["model"]["format"] == "skops" and manifest["onnx"] is None
    assert manifest["runtime"]["requirements"]["scikit-learn"]
    assert (result.bundle_dir / "requirements.txt").is_file()
    answers_like_sklearn(model, sample, result, tmp_path)


def test_dropped_columns_are_ignored_not_required(tmp_path: Path) -> None:
    model, sample = dropped_columns()
    result = build_bundle(model, sample, tmp_path / "dist", name="dropped")
    spec = result.manifest["input"]
    assert [f["name"] for f in spec["features"]] == ["amount", "visits"]
    assert set(spec["ignored"]) == {"customer_id", "ratio", "tenure", "plan"}
    row = {"amount": 12.5, "visits": 3}
    with_extra = {**row, "customer_id": "c9", "plan": "pro"}
    got = invoke_isolated(result.bundle_dir, [{"instances": [row, with_extra]}], tmp_path)
    expected = model.predict_proba(pd.DataFrame([{**with_extra, "ratio": 0.1, "tenure": 5}]))
    for prediction in got[0]["predictions"]:
        assert prediction["probabilities"]["1"] == pytest.approx(expected[0][1], abs=1e-5)


def test_outlier_detector_answers_on_the_python_runtime_too(tmp_path: Path) -> None:
    model, sample = isolation_forest()
    result = build_bundle(model, sample, tmp_path / "dist", name="iso", runtime="python")
    answers_like_sklearn(model, sample, result, tmp_path)


def test_multilabel_refuses_the_python_runtime_cleanly(tmp_path: Path) -> None:
    model, sample = multi_label()
    with pytest.raises(SlpackError, match="--runtime onnxruntime"):
        build_bundle(model, sample, tmp_path / "dist", name="ml", runtime="python")


def test_own_python_function_is_refused_with_the_step_named(tmp_path: Path) -> None:
    X, y, _ = _numeric()
    model = make_pipeline(FunctionTransformer(lambda a: a * 2), Ridge()).fit(X, y)
    with pytest.raises(SlpackError, match=r"FunctionTransformer runs .*--runtime sklearn"):
        build_bundle(model, X, tmp_path / "dist", name="own")
    with pytest.raises(SlpackError, match="cannot import"):
        build_bundle(model, X, tmp_path / "dist", name="own", runtime="sklearn")


def test_sklearn_runtime_renders_an_image_and_refuses_zip_targets(tmp_path: Path) -> None:
    from slpack.render import render

    model, sample = spline_ridge()
    result = build_bundle(model, sample, tmp_path / "dist", name="spline", runtime="sklearn")
    with pytest.raises(SlpackError, match="--target image"):
        render(result.bundle_dir, ["sam"])
    (dockerfile, _) = render(result.bundle_dir, ["image"])
    text = dockerfile.read_text()
    for name, version in result.manifest["runtime"]["requirements"].items():
        assert f"{name}=={version}" in text
    assert "public.ecr.aws/lambda/python" in text
