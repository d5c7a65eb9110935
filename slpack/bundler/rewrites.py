"""Conversion-only rewrites of a fitted model, as an extendable registry.

Some pipelines users write every day convert to ONNX models that are *valid* but *wrong* (a
scaler in float32 flips tree branches) or do not convert at all (a string imputer whose missing
value is NaN). A rewrite takes a deep copy of the fitted model, changes it so skl2onnx produces a
faithful graph, and may add skl2onnx options. The user's model is never touched: the parity gate
always compares against the original.

Register a rewrite with :func:`rewrite`; :func:`apply_rewrites` runs them all in order.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slpack.bundler import introspect
from slpack_handler.contract import MISSING_STRING


@dataclass
class Rewritten:
    """A conversion copy of the model, the skl2onnx options it needs, and what was changed.

    ``float_dtype`` is the element type of float inputs: float32 unless a rewrite needs the
    exact float64 values scikit-learn computes with (the handler then feeds float64).
    """

    model: Any
    options: dict[Any, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    float_dtype: str = "float32"

    def add_option(self, estimator: Any, **values: Any) -> None:
        self.options.setdefault(id(estimator), {}).update(values)


Rewrite = Callable[[Rewritten], None]
_REGISTRY: list[tuple[str, Rewrite]] = []


def rewrite(name: str) -> Callable[[Rewrite], Rewrite]:
    """Register a rewrite under ``name``; each note it records reaches the build report as
    ``name: note``, so a user can find the rewrite that changed their conversion."""

    def register(fn: Rewrite) -> Rewrite:
        _REGISTRY.append((name, fn))
        return fn

    return register


def apply_rewrites(model: Any) -> Rewritten:
    """Run every registered rewrite, in order, on a deep copy of ``model``."""
    result = Rewritten(copy.deepcopy(model))
    for name, fn in _REGISTRY:
        before = len(result.notes)
        fn(result)
        new = dict.fromkeys(result.notes[before:])  # once each, in order
        result.notes[before:] = [f"{name}: {note}" for note in new]
    return result


def replace_steps(model: Any, replace: Callable[[Any], Any | None]) -> None:
    """Replace estimators inside pipelines, column transformers and unions, in place.

    ``replace`` returns a substitute for an estimator, or None to keep it (and descend into it).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    def visit(est: Any) -> Any:
        new = replace(est)
        if new is not None:
            return new
        if isinstance(est, Pipeline):
            est.steps = [(n, visit(s)) for n, s in est.steps]
        elif isinstance(est, ColumnTransformer):
            est.transformers_ = [
                (n, t if isinstance(t, str) else visit(t), c) for n, t, c in est.transformers_
            ]
        elif isinstance(est, FeatureUnion):
            est.transformer_list = [(n, visit(t)) for n, t in est.transformer_list]
        return est

    visit(model)


# -- the rewrites --------------------------------------------------------------------------

_SCALERS = ("StandardScaler", "RobustScaler", "MaxAbsScaler", "MinMaxScaler")
_DIV_OPTION = ("StandardScaler", "RobustScaler", "MaxAbsScaler")


def _cast(dtype: Any, width: int) -> Any:
    from skl2onnx.sklapi import CastTransformer

    return CastTransformer(dtype=dtype).fit(np.zeros((1, width)))


@rewrite("float64-before-thresholds")
def _float64_before_thresholds(result: Rewritten) -> None:
    """Compute in float64 what scikit-learn computes in float64 before split thresholds.

    A tree compares float32(x) with its thresholds; scikit-learn computes every step before it
    in float64. An ONNX graph in float32 rounds the inputs and each step's result differently and
    flips branches near a threshold (a max error of 13 on 73 of 5000 rows for StandardScaler ->
    RandomForest; diabetes' float32 inputs alone moved a forest by 6.4). So whenever some step
    computes on the inputs before anything that compares thresholds (any tree, histogram booster,
    LightGBM or XGBoost model, wherever it sits: final step, stacking member, multi-output or
    target-transformed regressor; see :func:`introspect.compares_thresholds`), the inputs are fed
    as float64, scalers divide in float64, every column-transformer branch is cast to float32 at
    its end (so their outputs concatenate in one type) and the part that compares thresholds
    receives float32, as in scikit-learn.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    found: list[Any] = []

    def visit(est: Any, preceded: bool) -> Any:
        if isinstance(est, Pipeline):
            est.steps = [(n, visit(s, preceded or i > 0)) for i, (n, s) in enumerate(est.steps)]
            return est
        if not introspect.compares_thresholds(est) or isinstance(est, ColumnTransformer):
            return est
        if not preceded:
            return est
        found.append(est)
        width = getattr(est, "n_features_in_", 1)
        return Pipeline([("slpack_to_float32", _cast(np.float32, width)), ("model", est)])

    result.model = visit(result.model, False)
    if not found:
        return
    result.float_dtype = "float64"
    _branches_to_float32(result)
    for est in introspect.walk(result.model):
        if introspect.is_named(est, _DIV_OPTION):
            result.add_option(est, div="div_cast")
    result.notes.append("steps before the trees computed in float64 (float64 inputs)")


def _branches_to_float32(result: Rewritten) -> None:
    """End every numeric column-transformer branch with a cast to float32: their outputs are
    concatenated, and ONNX concatenates one element type only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    for est in list(introspect.walk(result.model)):
        if not isinstance(est, ColumnTransformer):
            continue
        branches = []
        for name, trans, cols in est.transformers_:
            if isinstance(trans, str) and trans == "drop":
                branches.append((name, trans, cols))
                continue
            width = len(cols) if not isinstance(cols, slice) else 1
            cast = _cast(np.float32, max(width, 1))
            if isinstance(trans, str):  # passthrough
                branches.append((name, cast, cols))
            else:
                branches.append(
                    (name, Pipeline([("branch", trans), ("slpack_to_float32", cast)]), cols)
                )
        est.transformers_ = branches


@rewrite("distances-in-float64")
def _distances(result: Rewritten) -> None:
    """KMeans distances in float64: float32 loses digits to cancellation in |x|² - 2x·c + |c|²."""
    if introspect.is_named(introspect.final_estimator(result.model), ("KMeans", "MiniBatchKMeans")):
        result.float_dtype = "float64"
        result.notes.append("cluster distances computed in float64 (float64 inputs)")


@rewrite("string-imputer-missing-token")
def _string_imputers(result: Rewritten) -> None:
    """Convert SimpleImputer on string columns whose missing value is NaN.

    pandas gives NaN for a missing category, so that is what users fit with; the converter only
    handles string missing values. ONNX string tensors cannot hold NaN anyway: the handler (and the
    parity gate) feed a missing string as ``MISSING_STRING``, so the converted imputer looks for it.
    """
    from sklearn.impute import SimpleImputer

    changed = []

    def fix(est: Any) -> Any | None:
        if not isinstance(est, SimpleImputer) or not hasattr(est, "statistics_"):
            return None
        stats = np.asarray(est.statistics_)
        missing = est.missing_values
        is_nan = missing is None or (isinstance(missing, float) and np.isnan(missing))
        if stats.dtype.kind not in "OU" or not is_nan:
            return None
        est.missing_values = MISSING_STRING
        est.statistics_ = stats.astype(object)
        changed.append(est)
        return est

    replace_steps(result.model, fix)
    if changed:
        result.notes.append("string imputers read missing values as empty strings")


@rewrite("imputer-indicator-as-union")
def _imputer_indicators(result: Rewritten) -> None:
    """``SimpleImputer(add_indicator=True)`` as the union scikit-learn computes: the imputed
    columns, then its fitted MissingIndicator's columns (skl2onnx's imputer ignores the
    indicator, and the next step then receives fewer columns than it was fitted on)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion

    changed = []

    def split(est: Any) -> Any | None:
        if not isinstance(est, SimpleImputer) or getattr(est, "indicator_", None) is None:
            return None
        indicator = est.indicator_
        est.add_indicator, est.indicator_ = False, None
        changed.append(est)
        return FeatureUnion([("imputed", est), ("indicator", indicator)])

    replace_steps(result.model, split)
    if changed:
        result.notes.append("imputers with add_indicator=True converted as imputer + indicator")


@rewrite("dense-bins")
def _dense_bins(result: Rewritten) -> None:
    """``KBinsDiscretizer(encode="onehot")`` as ``"onehot-dense"``: the same columns, only not
    in a sparse matrix, which is all skl2onnx refuses (ONNX has no sparse tensors)."""
    for est in introspect.walk(result.model):
        if introspect.is_named(est, ("KBinsDiscretizer",)) and est.encode == "onehot":
            est.encode = "onehot-dense"
            result.notes.append("KBinsDiscretizer one-hot bins converted dense (same columns)")


@rewrite("one-hot-missing-category")
def _one_hot_missing(result: Rewritten) -> None:
    """One-hot encoders that saw NaN in a string column keep it as a category of its own;
    requests send a missing string as ``MISSING_STRING`` (ONNX strings cannot be NaN), so the
    conversion copy names that category ``MISSING_STRING``. A NaN the encoder never saw stays
    unknown, as in scikit-learn (ignored, or refused by the probes)."""
    for est in introspect.walk(result.model):
        if not introspect.is_named(est, ("OneHotEncoder",)) or not hasattr(est, "categories_"):
            continue
        fixed = []
        for cats in est.categories_:
            if cats.dtype == object and any(_is_nan(c) for c in cats):
                if MISSING_STRING in set(cats.tolist()):
                    fixed.append(cats)  # a real empty-string category: cannot tell them apart
                    continue
                cats = np.array([MISSING_STRING if _is_nan(c) else c for c in cats], dtype=object)
                result.notes.append("a one-hot category fitted on NaN answers a missing string")
            fixed.append(cats)
        est.categories_ = fixed


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


# scikit-learn's word patterns match Python's Unicode ``\w``; onnxruntime's tokenizer (RE2) reads
# ``\w`` and ``\b`` as ASCII, so "café" would tokenize as "caf", and skl2onnx's own stand-in for
# the default, ``[a-zA-Z0-9_]+``, also keeps one-letter words, which shifts every word bigram after
# one. The replacement spells Python's ``\w`` out as a class of literal character ranges, which
# RE2 and Python's re (the python runtime's tokenizer) both read the same way.
_UNICODE_PATTERNS = {
    r"(?u)\b\w\w+\b": "{2,}",
    r"\b\w\w+\b": "{2,}",
    r"(?u)\b\w+\b": "+",
    r"\b\w+\b": "+",
}


# Unicode assigns no letter or digit past plane 3 (planes 4-13 are unassigned, 14 holds tags and
# variation selectors, 15-16 private use), so the scan stops there.
_LAST_WORD_PLANE_END = 0x40000


@functools.cache
def word_class() -> str:
    r"""Python's ``\w`` as ``[...]`` of literal ranges (734 ranges, 5 KB of UTF-8)."""
    import re

    every = "".join(map(chr, range(_LAST_WORD_PLANE_END)))  # lone surrogates are never \w
    ranges = []
    for match in re.finditer(r"\w+", every):
        first, last = match.group()[0], match.group()[-1]
        ranges.append(first if first == last else f"{first}-{last}")
    return "[" + "".join(ranges) + "]"


def unicode_token_pattern(token_pattern: str | None) -> str | None:
    """The RE2-and-Python equivalent of one of scikit-learn's word patterns, else None."""
    repeat = _UNICODE_PATTERNS.get(token_pattern or "")
    return None if repeat is None else word_class() + repeat


@rewrite("text-locale")
def _text_locale(result: Rewritten) -> None:
    """Give text vectorizers a locale that exists on every machine, and scikit-learn's words.

    The converted StringNormalizer asks for ``en_US.UTF-8`` by default; minimal images (Lambda's
    among them) lack it and the session fails to load. The C locale always exists; it lowercases
    ASCII only, which the parity gate checks against scikit-learn on the sample's real text.
    Word patterns scikit-learn ships become their Unicode RE2 equivalents
    (:func:`unicode_token_pattern`).
    """
    for est in introspect.walk(result.model):
        if introspect.is_named(est, introspect.TEXT_VECTORIZERS):
            result.add_option(est, locale="C")
            pattern = unicode_token_pattern(getattr(est, "token_pattern", None))
            if getattr(est, "analyzer", "word") == "word" and pattern is not None:
                result.add_option(est, tokenexp=pattern)
                result.notes.append(f"{type(est).__name__}'s word pattern as Unicode ranges")


@rewrite("voting-flatten")
def _voting_flatten(result: Rewritten) -> None:
    """Let soft-voting classifiers convert: skl2onnx refuses ``flatten_transform=True`` (the
    default).

    The flag only shapes ``transform()``'s output; ``predict`` and ``predict_proba``, which the
    function serves, do not read it, so the conversion copy turns it off.
    """
    from sklearn.ensemble import VotingClassifier

    for est in introspect.walk(result.model):
        if isinstance(est, VotingClassifier) and est.flatten_transform:
            est.flatten_transform = False
            result.notes.append(
                "VotingClassifier converted with flatten_transform=False (transform only)"
            )


@rewrite("classifier-outputs")
def _classifier_outputs(result: Rewritten) -> None:
    """Plain label + probability tensors (no ZipMap): cheaper to run and to read."""
    from sklearn.base import is_classifier

    last = introspect.final_estimator(result.model)
    if not is_classifier(last):
        return
    allowed = _allowed_options(last)
    if "zipmap" in allowed:
        result.add_option(last, zipmap=False)
    elif "output_class_labels" in allowed:
        # LinearSVC's converter has no ZipMap, but skl2onnx's Pipeline parser gives every classifier
        # step without options zipmap=True, which that converter then rejects; an explicit default
        # option keeps the parser out.
        result.add_option(last, output_class_labels=False)


def _allowed_options(estimator: Any) -> dict[str, Any]:
    """The options skl2onnx's converter for ``estimator`` declares (none when it has no
    converter)."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter

    alias = sklearn_operator_name_map.get(type(estimator))
    if alias is None:
        return {}
    try:
        return get_converter(alias).get_allowed_options() or {}
    except ValueError:  # registered name without a converter
        return {}
