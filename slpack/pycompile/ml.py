"""Lowering of the ai.onnx.ml models and preprocessors and of the text operators.

Weights become row lists, vocabularies become dicts and the TfIdf n-gram pool a trie of dicts,
all at build time: the function only looks values up.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from onnx import NodeProto

from slpack.pycompile.lowering import FLOATS, Context, Lowered, Unsupported, attributes, op_key


def _rows(flat: list[float], count: int) -> list[list[float]]:
    width = len(flat) // count if count else 0
    return [flat[i * width : (i + 1) * width] for i in range(count)]


def _labels(attrs: dict[str, Any], ints: str, strings: str) -> list[Any]:
    return list(attrs.get(strings) or attrs.get(ints) or [])


def _label_dtype(labels: list[Any]) -> str:
    return "string" if labels and isinstance(labels[0], str) else "int64"


def _numeric_input(node: NodeProto, ctx: Context) -> None:
    dtype = ctx.dtype(node.input[0])
    if dtype not in (*FLOATS, "int64", "int32"):
        raise Unsupported(f"{op_key(node)} on {dtype}")


def _scaler(node: NodeProto, ctx: Context) -> Lowered:
    _numeric_input(node, ctx)
    attrs = attributes(node)
    return Lowered(
        {
            "offset": attrs.get("offset", [0.0]),
            "scale": attrs.get("scale", [1.0]),
            "dtype": ctx.dtype(node.input[0]),
        },
        ["float32"],
    )


def _imputer(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    attrs = attributes(node)
    if dtype in FLOATS:
        values, marker = (
            attrs.get("imputed_value_floats", []),
            attrs.get("replaced_value_float", 0.0),
        )
    elif dtype == "int64":
        values, marker = attrs.get("imputed_value_int64s", []), attrs.get("replaced_value_int64", 0)
    else:
        raise Unsupported(f"{op_key(node)} on {dtype}")
    if not values:
        raise Unsupported(f"{op_key(node)} without imputed values for {dtype}")
    return Lowered({"values": values, "replaced": marker}, [dtype])


def _normalizer(node: NodeProto, ctx: Context) -> Lowered:
    _numeric_input(node, ctx)
    return Lowered({"norm": attributes(node).get("norm", "MAX")}, ["float32"])


def _binarizer(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    if dtype not in FLOATS:
        raise Unsupported(f"{op_key(node)} on {dtype}")
    return Lowered({"threshold": attributes(node).get("threshold", 0.0)}, [dtype])


_KEYS = ("keys_strings", "keys_int64s", "keys_floats")
_VALUES = ("values_strings", "values_int64s", "values_floats")
_DEFAULTS = {
    "values_strings": ("default_string", "_Unused", "string"),
    "values_int64s": ("default_int64", -1, "int64"),
    "values_floats": ("default_float", -0.0, "float32"),
}


def _label_encoder(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    if any(k.endswith("_tensor") for k in attrs):
        raise Unsupported(f"{op_key(node)} keys_tensor")
    keys_name = next((k for k in _KEYS if k in attrs), None)
    values_name = next((v for v in _VALUES if v in attrs), None)
    if keys_name is None or values_name is None:
        raise Unsupported(f"{op_key(node)} without keys or values")
    default_attr, fallback, dtype = _DEFAULTS[values_name]
    keys = list(attrs[keys_name])
    values = list(attrs[values_name])
    params: dict[str, Any] = {
        "keys": keys,
        "values": values,
        "default": attrs.get(default_attr, fallback),
    }
    if keys_name == "keys_floats":  # a NaN key never matches (onnxruntime gives the default)
        params["keys"] = [k for k in keys if k == k]
        params["values"] = [v for k, v in zip(keys, values) if k == k]
    return Lowered(params, [dtype])


def _category_mapper(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    strings, ints = list(attrs.get("cats_strings", [])), list(attrs.get("cats_int64s", []))
    if ctx.dtype(node.input[0]) == "string":
        return Lowered(
            {"keys": strings, "values": ints, "default": attrs.get("default_int64", -1)}, ["int64"]
        )
    return Lowered(
        {"keys": ints, "values": strings, "default": attrs.get("default_string", "_Unused")},
        ["string"],
    )


def _one_hot(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    dtype = ctx.dtype(node.input[0])
    if dtype == "string":
        cats, numeric = list(attrs.get("cats_strings", [])), False
    else:
        cats, numeric = list(attrs.get("cats_int64s", [])), True
    return Lowered(
        {"categories": cats, "zeros": attrs.get("zeros", 1), "numeric": numeric}, ["float32"]
    )


def _linear_classifier(node: NodeProto, ctx: Context) -> Lowered:
    _numeric_input(node, ctx)
    attrs = attributes(node)
    intercepts = list(attrs.get("intercepts", []))
    labels = _labels(attrs, "classlabels_ints", "classlabels_strings")
    if not intercepts:
        raise Unsupported(f"{op_key(node)} without intercepts")
    if len(intercepts) == 1 and len(labels) == 2 and attrs.get("post_transform") == "PROBIT":
        # onnxruntime leaves part of its [N, 2] output unwritten here: nothing to reproduce
        raise Unsupported(f"{op_key(node)} post_transform=PROBIT with one score column")
    return Lowered(
        {
            "coefficients": _rows(attrs["coefficients"], len(intercepts)),
            "intercepts": intercepts,
            "labels": labels,
            "post_transform": attrs.get("post_transform", "NONE"),
            "dtype": ctx.dtype(node.input[0]),
        },
        [_label_dtype(labels), "float32"],
    )


def _linear_regressor(node: NodeProto, ctx: Context) -> Lowered:
    _numeric_input(node, ctx)
    attrs = attributes(node)
    targets = attrs.get("targets", 1)
    intercepts = list(attrs.get("intercepts", [0.0] * targets))
    return Lowered(
        {
            "coefficients": _rows(attrs["coefficients"], targets),
            "intercepts": intercepts,
            "dtype": ctx.dtype(node.input[0]),
        },
        ["float32"],
    )


def _svm_common(attrs: dict[str, Any]) -> dict[str, Any]:
    params = attrs.get("kernel_params") or [0.0, 0.0, 0.0]
    return {
        "kernel_type": attrs.get("kernel_type", "LINEAR"),
        "gamma": params[0],
        "coef0": params[1],
        "degree": params[2],
    }


def _svm_classifier(node: NodeProto, ctx: Context) -> Lowered:
    _numeric_input(node, ctx)
    attrs = attributes(node)
    labels = _labels(attrs, "classlabels_ints", "classlabels_strings")
    if not labels:
        raise Unsupported(f"{op_key(node)} without class labels")
    per_class = list(attrs.get("vectors_per_class", []))
    count = sum(per_class)
    params = _svm_common(attrs)
    coefficients = list(attrs["coefficients"])
    if count:
        vectors = _rows(attrs["support_vectors"], count)
        coefs = _rows(coefficients, len(coefficients) // count)
    else:
        vectors, coefs = [], _rows(coefficients, len(labels))
        params["kernel_type"] = "LINEAR"
    params.update(
        {
            "labels": labels,
            "post_transform": attrs.get("post_transform", "NONE"),
            "vectors_per_class": per_class,
            "support_vectors": vectors,
            "coefficients": coefs,
            "all_coefficients": coefficients,
            "rho": list(attrs["rho"]),
            "prob_a": list(attrs.get("prob_a", [])),
            "prob_b": list(attrs.get("prob_b", [])),
        }
    )
    return Lowered(params, [_label_dtype(labels), "float32"])


def _svm_regressor(node: NodeProto, ctx: Context) -> Lowered:
    _numeric_input(node, ctx)
    attrs = attributes(node)
    count = attrs.get("n_supports", 0)
    params = _svm_common(attrs)
    if count:
        vectors = _rows(attrs["support_vectors"], count)
    else:
        vectors = []
        params["kernel_type"] = "LINEAR"
    params.update(
        {
            "support_vectors": vectors,
            "coefficients": list(attrs["coefficients"]),
            "rho": list(attrs["rho"]),
            "one_class": attrs.get("one_class", 0),
        }
    )
    return Lowered(params, ["float32"])


def _string_normalizer(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    return Lowered(
        {
            k: attrs[k]
            for k in ("case_change_action", "is_case_sensitive", "stopwords")
            if k in attrs
        },
        ["string"],
    )


def _tokenizer(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    pattern = attrs.get("tokenexp")
    for regex in [pattern] if pattern is not None else attrs.get("separators", []):
        if re.search(r"\(\?[=!<]|\\[1-9]|\(\?P=", regex):
            raise Unsupported(f"{op_key(node)} tokenexp={regex!r} (not RE2)")
        try:
            re.compile(regex, re.ASCII)
        except re.error as exc:
            raise Unsupported(f"{op_key(node)} tokenexp={regex!r} ({exc})") from None
    params: dict[str, Any] = {
        k: attrs[k]
        for k in ("pad_value", "mincharnum", "mark", "tokenexp", "separators")
        if k in attrs
    }
    return Lowered(params, ["string"])


def _tfidf(node: NodeProto, ctx: Context) -> Lowered:
    attrs = attributes(node)
    pool = list(attrs.get("pool_strings") or attrs.get("pool_int64s") or [])
    counts = [*list(attrs["ngram_counts"]), len(pool)]
    indexes = list(attrs["ngram_indexes"])
    width = max(indexes) + 1 if indexes else 0
    trie: dict[Any, Any] = {}
    ngram = 0
    for n, (start, end) in enumerate(itertools.pairwise(counts), start=1):
        for first in range(start, end, n):
            node_map = trie
            for pos, token in enumerate(pool[first : first + n]):
                entry = node_map.setdefault(token, [0, {}])
                if pos == n - 1:
                    entry[0] = indexes[ngram] + 1
                node_map = entry[1]
            ngram += 1
    weights = list(attrs.get("weights", [])) or [1.0] * width
    by_column = [1.0] * width
    for i, column in enumerate(indexes):
        by_column[column] = weights[i] if i < len(weights) else 1.0
    return Lowered(
        {
            "trie": trie,
            "width": width,
            "min_gram_length": attrs["min_gram_length"],
            "max_gram_length": attrs["max_gram_length"],
            "max_skip_count": attrs["max_skip_count"],
            "weights": by_column,
            "mode": attrs["mode"],
        },
        ["float32"],
    )


ML_LOWERINGS: dict[str, Callable[[NodeProto, Context], Lowered]] = {
    "ai.onnx.ml:Scaler": _scaler,
    "ai.onnx.ml:Imputer": _imputer,
    "ai.onnx.ml:Normalizer": _normalizer,
    "ai.onnx.ml:Binarizer": _binarizer,
    "ai.onnx.ml:LabelEncoder": _label_encoder,
    "ai.onnx.ml:CategoryMapper": _category_mapper,
    "ai.onnx.ml:OneHotEncoder": _one_hot,
    "ai.onnx.ml:LinearClassifier": _linear_classifier,
    "ai.onnx.ml:LinearRegressor": _linear_regressor,
    "ai.onnx.ml:SVMClassifier": _svm_classifier,
    "ai.onnx.ml:SVMRegressor": _svm_regressor,
    "ai.onnx:StringNormalizer": _string_normalizer,
    "com.microsoft:Tokenizer": _tokenizer,
    "ai.onnx:TfIdfVectorizer": _tfidf,
}
