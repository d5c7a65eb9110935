"""scikit-learn -> ONNX with skl2onnx: the registry, the options, and errors that name the step.

skl2onnx is itself an extendable registry; slpack adds (1) loading user converter modules
(``--converters``), (2) conversion-only rewrites for known traps (:mod:`slpack.bundler.rewrites`),
(3) a target opset chosen for the runtime the bundle will run on, and (4) failures that name the
estimator that could not be converted and the way out.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slpack.bundler import boosting, compat, extra, introspect, registry
from slpack.bundler.rewrites import apply_rewrites
from slpack.bundler.schema import Schema
from slpack.errors import ConversionError, SlpackError
from slpack_handler.errors import first_line

# Opset 21 / ai.onnx.ml 3 / IR 10 run on onnxruntime >= 1.18 (2024) and cover every converter
# slpack supports; newer opsets add nothing scikit-learn models use.
DEFAULT_OPSET = 21
DEFAULT_ML_OPSET = 3
# (onnxruntime minor release) -> (highest opset, highest IR version) it implements.
ORT_SUPPORT = {
    (1, 14): (18, 8),
    (1, 15): (19, 9),
    (1, 16): (19, 9),
    (1, 17): (20, 9),
    (1, 18): (21, 10),
    (1, 19): (21, 10),
    (1, 20): (21, 10),
    (1, 21): (22, 10),
}
MIN_ORT = min(k for k, (opset, _) in ORT_SUPPORT.items() if opset >= DEFAULT_OPSET)

_STRUCTURAL = ("Pipeline", "ColumnTransformer", "FeatureUnion")


@dataclass
class Converted:
    onnx_model: Any  # onnx.ModelProto
    opset: dict[str, int]
    notes: list[str] = field(default_factory=list)


def load_converter_modules(modules: list[str]) -> None:
    """Import user modules that register converters with ``skl2onnx.update_registered_converter``.

    A module may be a dotted name on sys.path or a path to a ``.py`` file.
    """
    for spec in modules:
        path = Path(spec)
        try:
            if path.suffix == ".py":
                if not path.is_file():
                    raise SlpackError(
                        f"converter module {spec} does not exist; give a .py path or a module name."
                    )
                sys.path.insert(0, str(path.parent.resolve()))
                importlib.import_module(path.stem)
            else:
                importlib.import_module(spec)
        except ImportError as exc:
            raise SlpackError(
                f"could not import converter module {spec!r} ({exc}); make it importable or "
                "give its .py path."
            ) from None


def convert(
    model: Any, schema: Schema, opset: int = DEFAULT_OPSET, ml_opset: int = DEFAULT_ML_OPSET
) -> Converted:
    """Convert a fitted model; fill in each feature's ONNX input name."""
    from skl2onnx import convert_sklearn

    with registry.scoped(compat.fixes() + extra.registrations() + boosting.registrations()):
        rewritten = apply_rewrites(model)
        _check_registered(rewritten.model)
        schema.use_float_dtype(rewritten.float_dtype)
        target = {"": opset, "ai.onnx.ml": ml_opset}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                onx = convert_sklearn(
                    rewritten.model,
                    initial_types=_initial_types(schema),
                    options=rewritten.options or None,
                    target_opset=target,
                    # skl2onnx's default is a random UUID, which breaks reproducible bundles
                    name="slpack",
                )
        except SlpackError:
            raise
        except Exception as exc:
            raise ConversionError(_explain(exc, model)) from None
    _prune_unread_inputs(onx, schema)
    _record_input_names(onx, schema)
    return Converted(onx, target, rewritten.notes)


def _prune_unread_inputs(onx: Any, schema: Schema) -> None:
    """Remove graph inputs no node reads (columns a ColumnTransformer drops, an id, a date):
    requests then need not send them, and the manifest lists them as ignored. Graph inputs come
    in the schema's feature order (skl2onnx may rename them, never reorders them)."""
    inputs = list(onx.graph.input)
    if schema.layout != "columns" or len(inputs) != len(schema.features):
        return
    read = {name for node in onx.graph.node for name in node.input}
    read.update(o.name for o in onx.graph.output)
    unread = {f.name for f, i in zip(schema.features, inputs) if i.name not in read}
    if not unread or len(unread) == len(inputs):
        return
    for graph_input in inputs:
        if graph_input.name not in read:
            onx.graph.input.remove(graph_input)
    schema.drop_unread(unread)


def _initial_types(schema: Schema) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    types = {
        "float32": FloatTensorType,
        "float64": DoubleTensorType,
        "int64": Int64TensorType,
        "bool": BooleanTensorType,
        "string": StringTensorType,
    }
    if schema.layout == "tensor":
        return [(schema.tensor_name, types[schema.tensor_dtype]([None, len(schema.features)]))]
    return [(f.name, types[f.dtype]([None, 1])) for f in schema.features]


def _record_input_names(onx: Any, schema: Schema) -> None:
    """skl2onnx renames inputs that are not valid ONNX names; requests keep the user's names."""
    names = [i.name for i in onx.graph.input]
    if schema.layout == "tensor":
        schema.tensor_name = names[0]
        return
    if len(names) != len(schema.features):
        raise ConversionError(
            f"the converted model has {len(names)} inputs for {len(schema.features)} columns; "
            "check that every sample column is used by the model."
        )
    for feature, name in zip(schema.features, names):
        feature.onnx_name = name


def _check_registered(model: Any) -> None:
    """Name the first estimator skl2onnx has no converter for, before it fails obscurely."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    for est in introspect.walk(model):
        cls = type(est)
        if _native_categories(est):
            raise ConversionError(
                f"{cls.__name__} splits on categorical columns natively, which its ONNX "
                f"converter cannot express; build with {SKLEARN_RUNTIME} to serve the pipeline "
                "as it is, or encode the categories (OrdinalEncoder) before it and retrain."
            )
        if cls.__name__ in _STRUCTURAL or cls in sklearn_operator_name_map:
            continue
        raise ConversionError(_no_converter(cls))


def _native_categories(est: Any) -> bool:
    """HistGradientBoosting with categorical features, LightGBM fitted on pandas categoricals."""
    flags = getattr(est, "is_categorical_", None)
    if flags is not None and bool(np.any(flags)):
        return True
    booster = getattr(est, "booster_", None) if hasattr(est, "fitted_") else None
    return bool(getattr(booster, "pandas_categorical", None))


SKLEARN_RUNTIME = "--runtime sklearn"  # the way forward when ONNX cannot express a step


def _no_converter(cls: type) -> str:
    name = cls.__name__
    if boosting.missing_extra(cls.__module__):
        return (
            f"{name} converts with onnxmltools, which is not installed; install it with "
            f"pip install '{boosting.EXTRA}' and rebuild."
        )
    if name == "FunctionTransformer":
        return (
            "the FunctionTransformer runs Python that ONNX cannot express (slpack converts numpy "
            "ufuncs such as np.log1p, np.exp, np.sqrt, np.clip); build with "
            f"{SKLEARN_RUNTIME} to serve the pipeline as it is."
        )
    return (
        f"ONNX has no converter for {name} from {cls.__module__}; build with {SKLEARN_RUNTIME} "
        "to serve the pipeline as it is, or register a converter with "
        "skl2onnx.update_registered_converter in a module passed with --converters MODULE."
    )


def _explain(exc: Exception, model: Any) -> str:
    text = first_line(exc, limit=10_000)  # the whole first line names the step; cut below
    step = _failing_step(text, model)
    return (
        f"converting {step} to ONNX failed ({text[:240]}); build with {SKLEARN_RUNTIME} to "
        "serve the pipeline as it is."
    )


def _failing_step(text: str, model: Any) -> str:
    """The estimator skl2onnx's message is about (it names the operator), else the model."""
    for est in introspect.walk(model):
        if type(est).__name__ in text and type(est).__name__ not in _STRUCTURAL:
            return type(est).__name__
    return introspect.describe(model)
