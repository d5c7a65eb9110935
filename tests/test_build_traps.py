"""The known conversion traps of the build issue, each handled and each proven here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from conftest import invoke_bundle
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from slpack.bundler import build_bundle, rewrites
from slpack.errors import ParityError


def _integer_features(n: int = 5000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.integers(0, 100, size=(n, 6)), columns=[f"f{i}" for i in range(6)]).astype(
        float
    )
    y = X["f0"] * 3 + X["f1"] ** 1.5 - X["f2"] * X["f3"] / 50 + rng.normal(0, 5, n)
    return X, y.to_numpy()


def test_scaler_before_trees_is_computed_in_float64(tmp_path: Path) -> None:
    X, y = _integer_features()
    model = make_pipeline(
        StandardScaler(), RandomForestRegressor(n_estimators=20, random_state=0)
    ).fit(X, y)
    result = build_bundle(model, X, tmp_path, name="rf")
    assert result.parity.passed
    assert result.parity.max_abs_error < 1e-3
    assert any("float64" in note for note in result.notes)


def test_without_the_float64_rewrite_parity_catches_flipped_branches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate is not decorative: drop the rewrite and the same pipeline fails parity."""
    kept = [(n, fn) for n, fn in rewrites._REGISTRY if n != "float64-before-thresholds"]
    monkeypatch.setattr(rewrites, "_REGISTRY", kept)
    X, y = _integer_features()
    model = make_pipeline(
        StandardScaler(), RandomForestRegressor(n_estimators=20, random_state=0)
    ).fit(X, y)
    with pytest.raises(ParityError) as info:
        build_bundle(model, X, tmp_path, name="rf")
    assert info.value.result.worst


def test_float64_sample_does_not_make_a_double_tree_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))  # float64
    y = X[:, 0] * 2 + rng.normal(size=300)
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    result = build_bundle(model, X, tmp_path, name="rf64")
    graph = onnx.load(result.files["onnx"]).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert result.manifest["input"]["tensor"]["dtype"] == "float32"


def test_hist_gradient_boosting_converts_under_the_installed_protobuf(tmp_path: Path) -> None:
    import google.protobuf

    X, y = _integer_features(400)
    model = HistGradientBoostingClassifier(max_iter=15).fit(X, y > np.median(y))
    result = build_bundle(model, X, tmp_path, name="hgb")
    assert result.parity.passed
    assert result.manifest["versions"]["protobuf"] == google.protobuf.__version__


def _categories_with_gaps(n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"plan": rng.choice(["basic", "pro", "team"], n), "x": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.1, "plan"] = np.nan
    y = ((frame["plan"] == "pro") | (frame["x"] > 1)).to_numpy().astype(int)
    return frame, y


def test_string_imputer_with_nan_missing_values_converts_and_answers_null(tmp_path: Path) -> None:
    frame, y = _categories_with_gaps()
    prep = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["plan"],
            ),
            ("num", "passthrough", ["x"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, y)
    result = build_bundle(model, frame, tmp_path, name="imp")
    plan = next(f for f in result.manifest["input"]["features"] if f["name"] == "plan")
    assert plan["nullable"] is True
    expected = model.predict_proba(pd.DataFrame({"plan": [np.nan], "x": [0.5]}))[0]
    (response,) = invoke_bundle(
        result.bundle_dir, [{"instances": [{"plan": None, "x": 0.5}]}], tmp_path
    )
    got = response["predictions"][0]["probabilities"]
    assert [got[str(c)] for c in model.classes_] == pytest.approx(expected, abs=1e-5)


def test_text_vectorizer_loads_without_the_en_us_locale(tmp_path: Path) -> None:
    texts = pd.DataFrame(
        {"text": ["Reset my PASSWORD", "refund the invoice", "App crashes", "password help"] * 10}
    )
    y = ["account", "billing", "tech", "account"] * 10
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("t", TfidfVectorizer(), "text")])),
            ("clf", LogisticRegression()),
        ]
    ).fit(texts, y)
    result = build_bundle(model, texts, tmp_path, name="text")
    assert result.parity.passed
    assert result.manifest["input"]["features"][0]["role"] == "text"


def test_non_ascii_words_tokenize_as_scikit_learn_does(tmp_path: Path) -> None:
    """onnxruntime's RE2 reads \\w as ASCII; the build hands it the Unicode equivalent of
    scikit-learn's pattern, so accented words are the same tokens on both sides."""
    texts = pd.DataFrame(
        {"text": ["café crème", "naïve idea", "plain words", "déjà vu again", "simple text"] * 8}
    )
    y = ["fr", "fr", "en", "fr", "en"] * 8
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("t", TfidfVectorizer(ngram_range=(1, 2)), "text")])),
            ("clf", LogisticRegression()),
        ]
    ).fit(texts, y)
    result = build_bundle(model, texts, tmp_path, name="accents")
    assert result.parity.passed and result.parity.max_abs_error < 1e-5


def test_text_lowercasing_mismatch_names_a_way_that_works(tmp_path: Path) -> None:
    """ONNX lowercases ASCII only: "CAFÉ" is not "café" there. The message offers the sklearn
    runtime (which serves it) and never a tolerance."""
    texts = pd.DataFrame({"text": ["CAFÉ CRÈME", "naïve idea", "plain words", "ÉTÉ chaud"] * 8})
    y = ["fr", "fr", "en", "fr"] * 8
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("t", TfidfVectorizer(), "text")])),
            ("clf", LogisticRegression()),
        ]
    ).fit(texts, y)
    with pytest.raises(ParityError, match="--runtime sklearn") as info:
        build_bundle(model, texts, tmp_path, name="upper", runtime="onnxruntime")
    assert "--atol" not in str(info.value)
    result = build_bundle(model, texts, tmp_path, name="upper", runtime="sklearn")
    assert result.parity.passed


def test_invalid_onnx_column_names_keep_the_users_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"spend/month": rng.normal(size=200), "plan type": rng.choice(["a", "b"], 200)}
    )
    y = (frame["spend/month"] > 0).astype(int)
    prep = ColumnTransformer(
        [("n", StandardScaler(), ["spend/month"]), ("c", OneHotEncoder(), ["plan type"])]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, y)
    result = build_bundle(model, frame, tmp_path, name="names")
    features = {f["name"]: f["onnx_name"] for f in result.manifest["input"]["features"]}
    assert set(features) == {"spend/month", "plan type"}
    assert features["spend/month"] != "spend/month"  # skl2onnx renamed it
    (response,) = invoke_bundle(
        result.bundle_dir, [{"instances": [{"spend/month": 1.0, "plan type": "a"}]}], tmp_path
    )
    assert response["predictions"][0]["label"] == int(
        model.predict(pd.DataFrame({"spend/month": [1.0], "plan type": ["a"]}))[0]
    )


def test_sparse_one_hot_output_matches_dense_onnx(tmp_path: Path) -> None:
    frame, y = _categories_with_gaps()
    frame = frame.fillna({"plan": "basic"})
    prep = ColumnTransformer(
        [
            ("c", OneHotEncoder(sparse_output=True, handle_unknown="ignore"), ["plan"]),
            ("n", "passthrough", ["x"]),
        ],
        sparse_threshold=1.0,
    )
    model = Pipeline(
        [("prep", prep), ("rf", RandomForestClassifier(n_estimators=15, random_state=0))]
    ).fit(frame, y)
    assert hasattr(model[:-1].transform(frame), "toarray")  # really sparse in scikit-learn
    result = build_bundle(model, frame, tmp_path, name="sparse")
    assert result.parity.passed


def test_unknown_category_policy_follows_the_encoder(tmp_path: Path) -> None:
    frame, y = _categories_with_gaps()
    frame = frame.fillna({"plan": "basic"})
    strict = Pipeline(
        [
            (
                "p",
                ColumnTransformer([("c", OneHotEncoder(), ["plan"]), ("n", "passthrough", ["x"])]),
            ),
            ("m", LogisticRegression()),
        ]
    ).fit(frame, y)
    lenient = Pipeline(
        [
            (
                "p",
                ColumnTransformer(
                    [
                        ("c", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                        ("n", "passthrough", ["x"]),
                    ]
                ),
            ),
            ("m", LogisticRegression()),
        ]
    ).fit(frame, y)
    for model, policy in ((strict, "reject"), (lenient, "accept")):
        result = build_bundle(model, frame, tmp_path / policy, name=policy)
        plan = next(f for f in result.manifest["input"]["features"] if f["name"] == "plan")
        assert plan["unknown"] == policy
        assert plan["categories"] == ["basic", "pro", "team"]


def test_missing_values_are_refused_where_the_model_cannot_take_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    model = LinearRegression().fit(X, X["a"] * 2)
    result = build_bundle(model, X, tmp_path, name="lin")
    assert not any(f["nullable"] for f in result.manifest["input"]["features"])
    assert result.parity.probes["a"]["missing"].startswith("refused")


def test_sublinear_tf_matches_scikit_learn(tmp_path: Path) -> None:
    """skl2onnx computes log(tf + 1) where scikit-learn computes 1 + log(tf); slpack fixes it."""
    texts = pd.DataFrame(
        {
            "text": [
                "refund refund my invoice",
                "app app app crashes",
                "reset password",
                "invoice wrong",
            ]
            * 10
        }
    )
    y = ["billing", "tech", "account", "billing"] * 10
    vec = TfidfVectorizer(sublinear_tf=True)
    model = Pipeline(
        [("prep", ColumnTransformer([("t", vec, "text")])), ("clf", LogisticRegression())]
    ).fit(texts, y)
    result = build_bundle(model, texts, tmp_path, name="sublinear")
    assert result.parity.passed and result.parity.max_abs_error < 1e-5


def test_numeric_imputer_runs_in_float64_when_trees_follow_a_scaler(tmp_path: Path) -> None:
    """The ONNX Imputer op has no float64 kernel; slpack's converter covers that path."""
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    X.loc[rng.random(400) < 0.1, "b"] = np.nan
    y = (X["a"] + X["c"] > 0).astype(int)
    model = make_pipeline(
        SimpleImputer(), StandardScaler(), RandomForestClassifier(n_estimators=10, random_state=0)
    ).fit(X, y)
    result = build_bundle(model, X, tmp_path, name="imp64")
    assert result.manifest["input"]["tensor"]["dtype"] == "float64"
    assert result.parity.passed
    assert next(f for f in result.manifest["input"]["features"] if f["name"] == "b")["nullable"]


@pytest.mark.parametrize("dtype", ["int64", "Int64", "int32"])
def test_an_integer_column_before_a_float_one_in_a_transformer_converts(
    tmp_path: Path, dtype: str
) -> None:
    """skl2onnx concatenates a transformer's inputs in the type of the first: ["age" (int),
    "spend" (float)] into one imputer failed with "Inputs and outputs should have the same type".
    Integers (and booleans) used as numbers are fed as floats, as scikit-learn computes with them;
    pandas' nullable Int64 (with NA) works too."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 300),
            "spend": rng.normal(50, 10, 300),
            "plan": rng.choice(["a", "b"], 300),
            "member": rng.random(300) > 0.5,
        }
    )
    X["age"] = X["age"].astype(dtype)
    if dtype == "Int64":
        X.loc[::10, "age"] = pd.NA
    y = (X["spend"] + (X["plan"] == "a") * 10 > 55).astype(int)
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "spend"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
            ("flag", "passthrough", ["member"]),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=500)).fit(X, y)
    result = build_bundle(model, X, tmp_path, name="ints")
    assert result.parity.passed and result.parity.label_agreement == 1.0
    row = {"age": 40, "spend": 55.5, "plan": "a", "member": True}
    (answer,) = invoke_bundle(
        result.bundle_dir, [{"instances": [row, {**row, "age": None}]}], tmp_path
    )
    expected = model.predict_proba(
        pd.DataFrame([row, {**row, "age": np.nan}]).astype({"age": "float64"})
    )[:, 1]
    assert [p["probabilities"]["1"] for p in answer["predictions"]] == pytest.approx(
        expected, abs=1e-5
    )
