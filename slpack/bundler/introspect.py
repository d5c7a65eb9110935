"""Read facts off a fitted scikit-learn model without running it.

Schema inference and the conversion rewrites both need to know what a pipeline is made of:
its task, which columns feed a text vectorizer, which encoders know which categories, whether
trees sit behind a scaler. Walking the estimator tree once, here, keeps those questions in one
place instead of scattered ``isinstance`` checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TEXT_VECTORIZERS = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer")
ENCODERS = ("OneHotEncoder", "OrdinalEncoder")
# Libraries whose every estimator is a tree ensemble (they keep their trees in a booster).
BOOSTING_LIBRARIES = ("lightgbm", "xgboost", "catboost")
# Attributes through which a fitted meta-estimator holds the estimators it predicts with.
_FITTED_CHILDREN = (
    "estimators_",
    "estimator_",
    "final_estimator_",
    "regressor_",
    "transformer_",
    "calibrated_classifiers_",
)

CLASSIFIER, REGRESSOR, TRANSFORMER = "classifier", "regressor", "transformer"
OUTLIER, MULTILABEL = "outlier", "multilabel"


def final_estimator(model: Any) -> Any:
    """The last step of (nested) pipelines: what decides the task and the outputs."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    return model


def first_step(model: Any) -> Any:
    """The first step of (nested) pipelines: what decides the input the model expects."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[0][1]
    return model


def task_of(model: Any) -> str:
    """What the endpoint answers, from its last step: classifier, multilabel (a classifier fitted
    on several label columns), regressor (one value or several), outlier (a novelty detector:
    label -1/1 and a score) or transformer (KMeans and other clusterers embed via transform)."""
    from sklearn.base import is_classifier, is_outlier_detector, is_regressor

    last = final_estimator(model)
    if is_classifier(last):
        return MULTILABEL if isinstance(getattr(last, "classes_", None), list) else CLASSIFIER
    if is_regressor(last):
        return REGRESSOR
    if is_outlier_detector(last):
        if not hasattr(last, "decision_function"):  # LocalOutlierFactor without novelty=True
            raise ValueError(
                f"{type(last).__name__} scores only the data it was fitted on (refit it with "
                "novelty=True to score new rows)"
            )
        return OUTLIER
    if hasattr(last, "transform"):
        return TRANSFORMER
    raise ValueError(
        f"{type(last).__name__} is neither a classifier, a regressor, an outlier detector nor a "
        "transformer"
    )


def has_predict_proba(model: Any) -> bool:
    """Whether probabilities exist (SVC without probability=True has only labels)."""
    try:
        return hasattr(model, "predict_proba")
    except Exception:  # available_if checks may raise on unusual estimators
        return False


def describe(model: Any) -> str:
    """A short human name: ``Pipeline(StandardScaler, LogisticRegression)``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(model, Pipeline):
        return f"Pipeline({', '.join(describe(step) for _, step in model.steps)})"
    if isinstance(model, ColumnTransformer):
        parts = [describe(t) for _, t, _ in model.transformers if t not in ("drop", "passthrough")]
        return f"ColumnTransformer({', '.join(parts)})"
    if isinstance(model, FeatureUnion):
        return f"FeatureUnion({', '.join(describe(t) for _, t in model.transformer_list)})"
    return type(model).__name__


def walk(model: Any) -> Iterator[Any]:
    """Every estimator inside ``model`` (depth first, the model itself included)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    yield model
    if isinstance(model, Pipeline):
        for _, step in model.steps:
            yield from walk(step)
    elif isinstance(model, ColumnTransformer):
        fitted = getattr(model, "transformers_", model.transformers)
        for _, trans, _ in fitted:
            if not isinstance(trans, str):
                yield from walk(trans)
    elif isinstance(model, FeatureUnion):
        for _, trans in model.transformer_list:
            yield from walk(trans)


def deep_walk(model: Any) -> Iterator[Any]:
    """Every estimator inside ``model``, meta-estimators' fitted members included (stacking,
    multi-output, bagging, target transformers, calibration), depth first, ``model`` first."""
    yield model
    for child in _children(model):
        yield from deep_walk(child)


def _children(model: Any) -> Iterator[Any]:
    from sklearn.base import BaseEstimator
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(model, Pipeline):
        yield from (step for _, step in model.steps if isinstance(step, BaseEstimator))
        return
    if isinstance(model, ColumnTransformer):
        fitted = getattr(model, "transformers_", model.transformers)
        yield from (t for _, t, _ in fitted if isinstance(t, BaseEstimator))
        return
    if isinstance(model, FeatureUnion):
        yield from (t for _, t in model.transformer_list if isinstance(t, BaseEstimator))
        return
    for attr in _FITTED_CHILDREN:
        value: Any = getattr(model, attr, None)
        members = value if isinstance(value, (list, tuple)) else [value]
        if hasattr(value, "ravel"):  # gradient boosting keeps a 2-D array of trees
            members = list(value.ravel())
        for member in members:
            if not isinstance(member, BaseEstimator):  # calibration wraps its classifier
                member = getattr(member, "estimator", None)
            if isinstance(member, BaseEstimator):
                yield member


def compares_thresholds(model: Any) -> bool:
    """Whether predicting with ``model`` compares input values with learned split thresholds,
    anywhere inside it: a fitted tree, a histogram booster's predictors, a boosting library's
    booster, or a meta-estimator holding any of them. Read off the fitted objects, not a list of
    class names, so new tree estimators and wrappers are covered as they come."""
    for est in deep_walk(model):
        if hasattr(est, "tree_") or hasattr(est, "_predictors"):
            return True
        if type(est).__module__.split(".")[0] in BOOSTING_LIBRARIES:
            return True
    return False


def is_named(obj: Any, names: tuple[str, ...]) -> bool:
    return type(obj).__name__ in names


def contains(model: Any, names: tuple[str, ...]) -> bool:
    return any(is_named(step, names) for step in walk(model))


@dataclass(frozen=True)
class ColumnUse:
    """What one input column feeds, as far as the fitted model tells."""

    text: bool = False
    categories: tuple[Any, ...] | None = None
    rejects_unknown: bool = False


def column_uses(model: Any, columns: list[str]) -> dict[str, ColumnUse]:
    """Map input column names to how the model uses them (text, categories)."""
    from sklearn.compose import ColumnTransformer

    uses: dict[str, ColumnUse] = {}
    if is_named(first_step(model), TEXT_VECTORIZERS) and len(columns) == 1:
        uses[columns[0]] = ColumnUse(text=True)
    for step in walk(model):
        if not isinstance(step, ColumnTransformer):
            continue
        for _, trans, cols in getattr(step, "transformers_", step.transformers):
            if isinstance(trans, str):
                continue
            names = _column_names(cols, columns)
            first = first_step(trans)
            if is_named(first, TEXT_VECTORIZERS):
                uses.update({name: ColumnUse(text=True) for name in names})
                continue
            encoder = next((s for s in walk(trans) if is_named(s, ENCODERS)), None)
            if (
                encoder is not None
                and hasattr(encoder, "categories_")
                and len(encoder.categories_) == len(names)
            ):
                rejects = getattr(encoder, "handle_unknown", "error") == "error"
                for name, cats in zip(names, encoder.categories_):
                    uses[name] = ColumnUse(categories=tuple(cats.tolist()), rejects_unknown=rejects)
    return uses


def unread_columns(model: Any, columns: list[str]) -> set[str]:
    """Input columns a leading ColumnTransformer drops (``"drop"``, ``remainder="drop"``)."""
    from sklearn.compose import ColumnTransformer

    first = first_step(model)
    if not isinstance(first, ColumnTransformer) or not hasattr(first, "transformers_"):
        return set()
    read: set[str] = set()
    for _, trans, cols in first.transformers_:
        if not (isinstance(trans, str) and trans == "drop"):
            read.update(_column_names(cols, columns))
    return set(columns) - read


def _column_names(cols: Any, columns: list[str]) -> list[str]:
    """Resolve a ColumnTransformer column selector to names."""
    import numpy as np

    if isinstance(cols, str):
        return [cols]
    if callable(cols):
        return []
    values = list(cols) if not isinstance(cols, slice) else columns[cols]
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return [c for c, keep in zip(columns, values) if keep]
    return [columns[v] if isinstance(v, (int, np.integer)) else str(v) for v in values]
