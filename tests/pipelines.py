"""Fitted pipelines and samples for the tests, on data that ships with scikit-learn.

Every case is (fitted model, sample frame); nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVC, SVR, LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

Case = tuple[Any, pd.DataFrame]


@cache
def dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    loader = getattr(datasets, f"load_{name}")
    X, y = loader(return_X_y=True, as_frame=True)
    return X, y


def with_missing(X: pd.DataFrame, every: int = 11) -> pd.DataFrame:
    X = X.copy()
    for j, col in enumerate(X.columns):
        X.loc[X.index[j % every :: every], col] = np.nan
    return X


@cache
def mixed_frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A churn-like frame: floats with gaps, ints, a bool, categories with gaps, an ordinal."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "monthly_spend": rng.gamma(2.0, 30.0, n).round(2),
            "visits": rng.integers(0, 40, n),
            "is_member": rng.random(n) > 0.6,
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "region": rng.choice(["eu", "us", "apac", None], n, p=[0.4, 0.35, 0.2, 0.05]),
            "tier": rng.choice(["low", "mid", "high"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    frame["region"] = frame["region"].where(frame["region"].notna(), np.nan)
    logit = 0.03 * frame["visits"] - 0.01 * frame["monthly_spend"] + (frame["plan"] == "pro") * 1.2
    y = pd.Series((logit + rng.normal(0, 0.5, n) > 0.2).astype(int), name="churn")
    return frame, y


def mixed_preprocess(scale: bool = True) -> ColumnTransformer:
    numeric = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    return ColumnTransformer(
        [
            ("num", make_pipeline(*numeric), ["age", "monthly_spend", "visits", "is_member"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["plan", "region"],
            ),
            ("ord", OrdinalEncoder(categories=[["low", "mid", "high"]]), ["tier"]),
        ]
    )


TICKETS = {
    "billing": [
        "I was charged twice this month",
        "refund my last invoice please",
        "my card payment failed",
        "why is my bill higher",
        "cancel the duplicate charge",
        "invoice shows the wrong amount",
    ],
    "technical": [
        "the app crashes on startup",
        "error 500 when I upload a file",
        "login page does not load",
        "sync keeps failing on my phone",
        "the export button is broken",
        "page is very slow today",
    ],
    "account": [
        "how do I reset my password",
        "change the email on my account",
        "delete my account",
        "add a second user to my team",
        "update my profile name",
        "enable two factor login",
    ],
}


@cache
def tickets(repeat: int = 8) -> tuple[pd.DataFrame, pd.Series]:
    texts, labels = [], []
    for label, lines in TICKETS.items():
        for i in range(repeat):
            for line in lines:
                texts.append(f"{line} {'please help' if i % 2 else ''}".strip())
                labels.append(label)
    return pd.DataFrame({"text": texts}), pd.Series(labels, name="queue")


def _fit(model: Any, X: pd.DataFrame, y: pd.Series | None) -> Case:
    return model.fit(X, y) if y is not None else model.fit(X), X


def _clf(name: str, model: Any, missing: bool = False) -> Callable[[], Case]:
    def make() -> Case:
        X, y = dataset(name)
        return _fit(model, with_missing(X) if missing else X, y)

    return make


def _mixed(model: Any, scale: bool = True) -> Callable[[], Case]:
    def make() -> Case:
        X, y = mixed_frame()
        return _fit(Pipeline([("prep", mixed_preprocess(scale)), ("model", model)]), X, y)

    return make


def _text(model: Any, target: bool = True) -> Callable[[], Case]:
    def make() -> Case:
        X, y = tickets()
        ct = ColumnTransformer([("tfidf", TfidfVectorizer(), "text")])
        return _fit(Pipeline([("prep", ct), ("model", model)]), X, y if target else None)

    return make


def _unsupervised(name: str, model: Any) -> Callable[[], Case]:
    def make() -> Case:
        X, _ = dataset(name)
        return _fit(model, X, None)

    return make


# name -> factory; each one a row of the coverage matrix of the build issue.
COVERAGE: dict[str, Callable[[], Case]] = {
    "standard-scaler-logreg": _clf(
        "iris", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    ),
    "minmax-svc-proba": _clf(
        "wine", make_pipeline(MinMaxScaler(), SVC(probability=True, random_state=0))
    ),
    "robust-mlp": _clf(
        "breast_cancer",
        make_pipeline(
            RobustScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
        ),
    ),
    "imputer-ridge": _clf(
        "diabetes", make_pipeline(SimpleImputer(), StandardScaler(), Ridge()), missing=True
    ),
    "linear-regression": _clf("diabetes", LinearRegression()),
    "svr": _clf("diabetes", make_pipeline(StandardScaler(), SVR())),
    "sgd-hinge-labels-only": _clf(
        "iris", make_pipeline(StandardScaler(), SGDClassifier(random_state=0))
    ),
    "decision-tree-classifier": _clf("iris", DecisionTreeClassifier(random_state=0)),
    "decision-tree-regressor": _clf("diabetes", DecisionTreeRegressor(max_depth=6, random_state=0)),
    "random-forest-classifier": _clf(
        "wine", RandomForestClassifier(n_estimators=30, random_state=0)
    ),
    "random-forest-regressor": _clf(
        "diabetes",
        make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=30, random_state=0)),
    ),
    "extra-trees-classifier": _clf("wine", ExtraTreesClassifier(n_estimators=30, random_state=0)),
    "extra-trees-regressor": _clf("diabetes", ExtraTreesRegressor(n_estimators=30, random_state=0)),
    "gradient-boosting-classifier": _clf(
        "breast_cancer", GradientBoostingClassifier(n_estimators=30, random_state=0)
    ),
    "gradient-boosting-regressor": _clf(
        "diabetes", GradientBoostingRegressor(n_estimators=30, random_state=0)
    ),
    "hist-gradient-boosting-classifier": _clf(
        "iris", HistGradientBoostingClassifier(max_iter=30), missing=True
    ),
    "hist-gradient-boosting-regressor": _clf(
        "diabetes", HistGradientBoostingRegressor(max_iter=30), missing=True
    ),
    "kneighbors-classifier": _clf(
        "wine", make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    ),
    "kneighbors-regressor": _clf("diabetes", KNeighborsRegressor(n_neighbors=5)),
    "pca-embedding": _unsupervised("wine", make_pipeline(StandardScaler(), PCA(n_components=3))),
    "kmeans-embedding": _unsupervised("iris", KMeans(n_clusters=3, n_init=3, random_state=0)),
    "mixed-logreg": _mixed(LogisticRegression(max_iter=1000)),
    "mixed-hist-gradient-boosting": _mixed(
        HistGradientBoostingClassifier(max_iter=30), scale=False
    ),
    "mixed-random-forest": _mixed(RandomForestClassifier(n_estimators=30, random_state=0)),
    "tfidf-logreg": _text(LogisticRegression(max_iter=1000)),
    "tfidf-truncated-svd": _text(TruncatedSVD(n_components=4, random_state=0), target=False),
    # skl2onnx's Pipeline parser would give LinearSVC a zipmap option its converter rejects
    "maxabs-linear-svc-labels-only": _clf(
        "iris", make_pipeline(MaxAbsScaler(), LinearSVC(random_state=0))
    ),
    # skl2onnx refuses flatten_transform=True, which predict and predict_proba never read
    "soft-voting": _clf(
        "iris",
        VotingClassifier(
            [
                ("lr", LogisticRegression(max_iter=1000)),
                ("dt", DecisionTreeClassifier(random_state=0)),
            ],
            voting="soft",
        ),
    ),
}
