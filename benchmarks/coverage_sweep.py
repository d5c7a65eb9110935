"""Build realistic fitted pipelines the way a new user would, and tabulate what happens.

    python benchmarks/coverage_sweep.py [--out benchmarks/results/coverage_sweep.md] [NAME ...]

Each case is a pipeline a data team would plausibly ship (not one of the tests' cases), fitted on
data made here. For each: plain ``slpack build`` (runtime auto); when that refuses, the same build
with ``--runtime sklearn`` (the way forward the refusal names). The table says which runtime
served it, or the one-sentence refusal. Offline; about a minute on two cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_selector
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    QuantileTransformer,
    SplineTransformer,
    StandardScaler,
    TargetEncoder,
)
from sklearn.svm import OneClassSVM

REPO = Path(__file__).resolve().parent.parent
Case = tuple[Any, pd.DataFrame]

# -- data ----------------------------------------------------------------------------------------


def orders(n: int = 800, seed: int = 7) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """An e-commerce order frame: an id, a date, amounts with gaps, counts, categories with gaps,
    a free-text note; targets: returned (0/1) and basket value."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "order_id": [f"o-{i:05d}" for i in range(n)],
            "created": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d"),
            "amount": rng.lognormal(3.5, 0.8, n).round(2),
            "discount": rng.uniform(0, 0.4, n).round(3),
            "items": rng.integers(1, 12, n),
            "days_since_last": rng.integers(0, 400, n),
            "channel": rng.choice(["web", "app", "store"], n, p=[0.5, 0.35, 0.15]),
            "country": rng.choice(["fr", "de", "es", "it", None], n, p=[0.3, 0.3, 0.2, 0.15, 0.05]),
            "segment": rng.choice(["new", "regular", "vip"], n),
        }
    )
    frame.loc[rng.random(n) < 0.06, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.04, "discount"] = np.nan
    frame["country"] = frame["country"].where(frame["country"].notna(), np.nan)
    score = (
        0.02 * frame["items"]
        + 1.5 * frame["discount"].fillna(0)
        - 0.004 * frame["days_since_last"]
        + (frame["channel"] == "app") * 0.6
    )
    returned = pd.Series((score + rng.normal(0, 0.4, n) > 0.3).astype(int), name="returned")
    value = pd.Series(
        frame["amount"].fillna(40) * (1 - frame["discount"].fillna(0)) + rng.gamma(2, 3, n),
        name="value",
    )
    return frame, returned, value


NUM = ["amount", "discount", "items", "days_since_last"]
FLOATS = ["amount", "discount"]
INTS = ["items", "days_since_last"]
CATS = ["channel", "country", "segment"]

REVIEWS = [
    ("great product fast delivery", "pos"),
    ("terrible quality broke after a day", "neg"),
    ("café au lait mug is lovely", "pos"),
    ("not worth the money", "neg"),
    ("très bien, livraison rapide", "pos"),
    ("the worst purchase I have made", "neg"),
    ("excellent value and well made", "pos"),
    ("arrived damaged and late", "neg"),
    ("naïve design but works fine", "pos"),
    ("stopped working, no refund", "neg"),
]


def reviews(repeat: int = 12) -> tuple[pd.DataFrame, pd.Series]:
    texts, labels = [], []
    for i in range(repeat):
        for text, label in REVIEWS:
            texts.append(text if i % 3 else f"{text} really")
            labels.append(label)
    return pd.DataFrame({"review": texts}), pd.Series(labels, name="sentiment")


def sensors(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temp": rng.normal(60, 5, n),
            "vibration": rng.gamma(2, 0.3, n),
            "pressure": rng.normal(101, 2, n),
            "rpm": rng.integers(900, 1500, n),
        }
    )


# -- cases ---------------------------------------------------------------------------------------


def _prep(scale: bool = True, ohe_ignore: bool = True) -> ColumnTransformer:
    numeric = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    unknown = "ignore" if ohe_ignore else "error"
    return ColumnTransformer(
        [
            ("num", make_pipeline(*numeric), NUM),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown=unknown),
                ),
                CATS,
            ),
        ]
    )


def _orders_clf(model: Any) -> Callable[[], Case]:
    def make() -> Case:
        X, y, _ = orders()
        return model.fit(X, y), X

    return make


def _orders_reg(model: Any) -> Callable[[], Case]:
    def make() -> Case:
        X, _, y = orders()
        return model.fit(X, y), X

    return make


def _orders_numeric(model: Any, target: str = "clf") -> Callable[[], Case]:
    def make() -> Case:
        X, returned, value = orders()
        Xn = X[NUM].fillna(0.0)
        return model.fit(Xn, returned if target == "clf" else value), Xn

    return make


def _orders_multi(model: Any, labels: bool) -> Callable[[], Case]:
    def make() -> Case:
        X, returned, value = orders()
        Xn = X[NUM].fillna(0.0)
        if labels:
            y = np.c_[returned, (X["channel"] == "app").astype(int)]
        else:
            y = np.c_[value, value * 0.2 + X["items"]]
        return model.fit(Xn, y), Xn

    return make


def _reviews(model: Any) -> Callable[[], Case]:
    def make() -> Case:
        X, y = reviews()
        return model.fit(X["review"].to_numpy(), y), X

    return make


def _sensors(model: Any) -> Callable[[], Case]:
    def make() -> Case:
        X = sensors()
        return model.fit(X), X

    return make


def _boosting(kind: str, task: str) -> Callable[[], Case]:
    def make() -> Case:
        if kind == "lightgbm":
            import lightgbm as lgb

            est = (
                lgb.LGBMClassifier(n_estimators=40, verbose=-1)
                if task == "clf"
                else lgb.LGBMRegressor(n_estimators=40, verbose=-1)
            )
        else:
            import xgboost as xgb

            est = (
                xgb.XGBClassifier(n_estimators=40, max_depth=4)
                if task == "clf"
                else xgb.XGBRegressor(n_estimators=40, max_depth=4)
            )
        return (_orders_clf if task == "clf" else _orders_reg)(
            Pipeline([("prep", _prep()), ("m", est)])
        )()

    return make


def _lgbm_native_categorical() -> Case:
    import lightgbm as lgb

    X, y, _ = orders()
    frame = X[[*NUM, "channel", "segment"]].copy()
    for c in ("channel", "segment"):
        frame[c] = frame[c].astype("category")
    return lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(frame, y), frame


def _hgb_from_dtype() -> Case:
    X, y, _ = orders()
    frame = X[[*NUM, "channel", "segment"]].copy()
    for c in ("channel", "segment"):
        frame[c] = frame[c].astype("category")
    model = HistGradientBoostingClassifier(max_iter=30, categorical_features="from_dtype")
    return model.fit(frame, y), frame


def _multiclass_xgb() -> Case:
    import xgboost as xgb

    X, _, _ = orders()
    y = X["segment"].map({"new": 0, "regular": 1, "vip": 2})
    Xn = X[NUM].fillna(0.0)
    model = make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=30, max_depth=3))
    return model.fit(Xn, y), Xn


def _own_python() -> Case:
    X, y, _ = orders()
    Xn = X[NUM].fillna(0.0)

    def ratio(frame: Any) -> Any:  # a team's own feature code
        a = np.asarray(frame, dtype=float)
        return np.c_[a, a[:, 0] / (a[:, 2] + 1)]

    return make_pipeline(FunctionTransformer(ratio), LogisticRegression(max_iter=500)).fit(
        Xn, y
    ), Xn


CASES: dict[str, Callable[[], Case]] = {
    "ct-logreg": _orders_clf(
        Pipeline([("prep", _prep()), ("m", LogisticRegression(max_iter=500))])
    ),
    "ct-random-forest": _orders_clf(
        Pipeline([("prep", _prep(scale=False)), ("m", RandomForestClassifier(60, random_state=0))])
    ),
    "ct-gbr-passthrough-ints": _orders_reg(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("num", make_pipeline(SimpleImputer(), StandardScaler()), FLOATS),
                            ("ints", "passthrough", INTS),
                        ]
                    ),
                ),
                ("m", GradientBoostingRegressor(n_estimators=40, random_state=0)),
            ]
        )
    ),
    "ct-hgbr-passthrough-ints": _orders_reg(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [("num", StandardScaler(), FLOATS), ("ints", "passthrough", INTS)]
                    ),
                ),
                ("m", HistGradientBoostingRegressor(max_iter=40)),
            ]
        )
    ),
    "lightgbm-classifier": _boosting("lightgbm", "clf"),
    "lightgbm-regressor": _boosting("lightgbm", "reg"),
    "xgboost-classifier": _boosting("xgboost", "clf"),
    "xgboost-regressor": _boosting("xgboost", "reg"),
    "xgboost-multiclass-scaler": _multiclass_xgb,
    "lightgbm-native-categorical": _lgbm_native_categorical,
    "hgb-categorical-from-dtype": _hgb_from_dtype,
    "log1p-ridge": _orders_numeric(
        make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), Ridge()), "reg"
    ),
    "log-target-gbr": _orders_numeric(
        TransformedTargetRegressor(
            GradientBoostingRegressor(n_estimators=30, random_state=0),
            func=np.log,
            inverse_func=np.exp,
        ),
        "reg",
    ),
    "sqrt-elasticnet": _orders_numeric(
        make_pipeline(FunctionTransformer(np.sqrt), ElasticNet(alpha=0.01)), "reg"
    ),
    "imputer-add-indicator": _orders_clf(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [("num", SimpleImputer(add_indicator=True), NUM)], remainder="drop"
                    ),
                ),
                ("m", LogisticRegression(max_iter=500)),
            ]
        )
    ),
    "missing-indicator-union": _orders_clf(
        Pipeline(
            [
                ("sel", ColumnTransformer([("num", "passthrough", NUM)])),
                ("feat", FeatureUnion([("imp", SimpleImputer()), ("ind", MissingIndicator())])),
                ("m", RandomForestClassifier(40, random_state=0)),
            ]
        )
    ),
    "ohe-ignore-nan-strings": _orders_clf(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("num", SimpleImputer(), NUM),
                            ("cat", OneHotEncoder(handle_unknown="ignore"), CATS),
                        ]
                    ),
                ),
                ("m", LogisticRegression(max_iter=500)),
            ]
        )
    ),
    "ordinal-encoder-trees": _orders_clf(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("num", "passthrough", NUM),
                            (
                                "cat",
                                OrdinalEncoder(
                                    handle_unknown="use_encoded_value", unknown_value=-1
                                ),
                                ["channel", "segment"],
                            ),
                        ]
                    ),
                ),
                ("m", HistGradientBoostingClassifier(max_iter=30)),
            ]
        )
    ),
    "target-encoder": _orders_clf(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("num", SimpleImputer(), NUM),
                            ("cat", TargetEncoder(random_state=0), ["channel", "segment"]),
                        ]
                    ),
                ),
                ("m", LogisticRegression(max_iter=500)),
            ]
        )
    ),
    "spline-ridge": _orders_numeric(make_pipeline(SplineTransformer(n_knots=5), Ridge()), "reg"),
    "quantile-normal-logreg": _orders_numeric(
        make_pipeline(
            QuantileTransformer(n_quantiles=100, output_distribution="normal"),
            LogisticRegression(max_iter=500),
        )
    ),
    "power-transformer-ridge": _orders_numeric(make_pipeline(PowerTransformer(), Ridge()), "reg"),
    "kbins-logreg": _orders_numeric(
        make_pipeline(KBinsDiscretizer(n_bins=5, encode="onehot"), LogisticRegression(max_iter=500))
    ),
    "poly-ridge": _orders_numeric(
        make_pipeline(StandardScaler(), PolynomialFeatures(2), Ridge()), "reg"
    ),
    "stacking-classifier": _orders_numeric(
        make_pipeline(
            StandardScaler(),
            StackingClassifier(
                [
                    ("rf", RandomForestClassifier(30, random_state=0)),
                    ("lr", LogisticRegression(max_iter=500)),
                ],
                final_estimator=LogisticRegression(),
            ),
        )
    ),
    "stacking-regressor": _orders_numeric(
        make_pipeline(
            StandardScaler(),
            StackingRegressor(
                [("et", ExtraTreesRegressor(30, random_state=0)), ("r", Ridge())],
                final_estimator=Ridge(),
            ),
        ),
        "reg",
    ),
    "isolation-forest": _sensors(IsolationForest(n_estimators=50, random_state=0)),
    "one-class-svm": _sensors(make_pipeline(StandardScaler(), OneClassSVM(nu=0.05))),
    "lof-novelty": _sensors(
        make_pipeline(StandardScaler(), LocalOutlierFactor(n_neighbors=20, novelty=True))
    ),
    "multi-output-regressor-trees": _orders_multi(
        make_pipeline(
            StandardScaler(), MultiOutputRegressor(RandomForestRegressor(20, random_state=0))
        ),
        labels=False,
    ),
    "multi-label-classifier": _orders_multi(
        make_pipeline(StandardScaler(), MultiOutputClassifier(LogisticRegression(max_iter=500))),
        labels=True,
    ),
    "tfidf-bigrams": _reviews(
        make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=500))
    ),
    "count-char-wb": _reviews(
        make_pipeline(
            CountVectorizer(analyzer="char_wb", ngram_range=(2, 3)),
            LogisticRegression(max_iter=500),
        )
    ),
    "count-char": _reviews(
        make_pipeline(
            CountVectorizer(analyzer="char", ngram_range=(1, 2)), LogisticRegression(max_iter=500)
        )
    ),
    "tfidf-no-lowercase-accents": _reviews(
        make_pipeline(TfidfVectorizer(lowercase=False, min_df=2), LogisticRegression(max_iter=500))
    ),
    "hashing-vectorizer": _reviews(
        make_pipeline(HashingVectorizer(n_features=256), LogisticRegression(max_iter=500))
    ),
    "dropped-id-and-date": _orders_clf(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUM),
                            ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
                        ],
                        remainder="drop",
                    ),
                ),
                ("m", LogisticRegression(max_iter=500)),
            ]
        )
    ),
    "selector-columns": _orders_clf(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            (
                                "num",
                                make_pipeline(SimpleImputer(), StandardScaler()),
                                make_column_selector(dtype_include="number"),
                            )
                        ]
                    ),
                ),
                ("m", LogisticRegression(max_iter=500)),
            ]
        )
    ),
    "own-python-function": _own_python,
}


# -- the sweep -----------------------------------------------------------------------------------


def run_case(name: str, out: Path) -> tuple[str, str, float]:
    """(outcome, detail, seconds): outcome is plain, sklearn-runtime or refused."""
    from slpack.bundler import build_bundle
    from slpack.errors import SlpackError

    started = time.perf_counter()
    try:
        model, sample = CASES[name]()
    except ImportError as exc:
        return "skipped", f"needs {exc.name}", 0.0
    try:
        result = build_bundle(model, sample, out, name=name)
        runtime = result.manifest["runtime"]["name"]
        return "plain", f"runtime {runtime}", time.perf_counter() - started
    except SlpackError as exc:
        refusal = str(exc)
    except Exception as exc:  # a traceback a user would see: the worst outcome
        return "crash", f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - started
    if "--runtime sklearn" not in refusal:
        return "refused", refusal, time.perf_counter() - started
    try:
        build_bundle(model, sample, out, name=name, runtime="sklearn")
    except SlpackError as exc:
        return "refused", f"{refusal} / sklearn runtime: {exc}", time.perf_counter() - started
    return "sklearn-runtime", refusal, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="case names (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/coverage_sweep.md")
    args = parser.parse_args(argv)
    names = args.names or list(CASES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            outcome, detail, seconds = run_case(name, Path(tmp))
            rows.append((name, outcome, detail, seconds))
            print(f"{name:32} {outcome:16} {seconds:5.1f}s  {detail[:160]}", flush=True)
    counts = {o: sum(1 for r in rows if r[1] == o) for o in dict.fromkeys(r[1] for r in rows)}
    lines = [
        "# Coverage sweep",
        "",
        f"{len(rows)} pipelines: " + ", ".join(f"{n} {o}" for o, n in counts.items()),
        "",
        "| pipeline | outcome | detail |",
        "| --- | --- | --- |",
        *[f"| {n} | {o} | {d.replace('|', '/')} |" for n, o, d, _ in rows],
    ]
    if not args.names:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n" + lines[2])
    return 0 if counts.get("crash", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
