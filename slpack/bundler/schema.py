"""Infer the input schema from the sample and the fitted model.

The schema decides three things at once: the ONNX inputs the converter is given, the request
values the parity gate sends through the bundle's runtime, and the manifest the handler validates
requests against. Keeping one :class:`Schema` object for all three is what makes "the function
answers requests the way scikit-learn answered the sample" a checkable claim.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from slpack.bundler import introspect
from slpack.errors import SlpackError

if TYPE_CHECKING:
    from slpack_handler.contract import Dtype, FeatureSpec, InputSpec, Layout, TensorSpec


@dataclass
class Feature:
    """One request field (see docs/manifest.md for the meaning of each attribute)."""

    name: str
    type: str  # number | integer | boolean | string
    dtype: str  # float32 | int64 | bool | string
    role: str  # numeric | categorical | text | boolean
    onnx_name: str | None = None
    nullable: bool = False
    categories: list[Any] | None = None
    unknown: str | None = None  # categorical only: accept | reject

    def to_manifest(self) -> FeatureSpec:
        return cast("FeatureSpec", asdict(self))


@dataclass
class Schema:
    """The request schema plus how to hand a frame to scikit-learn and to onnxruntime."""

    layout: str  # columns | tensor
    features: list[Feature]
    sklearn_input: str  # frame | text | array: what model.predict expects
    tensor_name: str = "X"
    tensor_dtype: str = "float32"
    dropped_columns: list[str] = field(default_factory=list)
    model_columns: list[str] = field(default_factory=list)  # what model.predict is handed

    def __post_init__(self) -> None:
        self.model_columns = self.model_columns or self.names

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_manifest(self) -> InputSpec:
        tensor: TensorSpec | None = None
        if self.layout == "tensor":
            tensor = {
                "name": self.tensor_name,
                "dtype": cast("Dtype", self.tensor_dtype),
                "width": len(self.features),
            }
        return {
            "layout": cast("Layout", self.layout),
            "tensor": tensor,
            "features": [f.to_manifest() for f in self.features],
            "ignored": list(self.dropped_columns),
        }

    def drop_unread(self, names: set[str]) -> None:
        """Features the model never reads leave the request schema: accepted, not required."""
        unread = [f.name for f in self.features if f.name in names]
        self.features = [f for f in self.features if f.name not in names]
        self.dropped_columns += unread

    def use_float_dtype(self, dtype: str) -> None:
        """Feed float features as ``dtype`` (float32 or float64)."""
        if self.layout == "tensor":
            self.tensor_dtype = dtype
        for feature in self.features:
            if feature.dtype in ("float32", "float64"):
                feature.dtype = dtype

    # -- feeding the two implementations ---------------------------------------------------

    def sklearn_rows(self, frame: Any) -> Any:
        """The rows of ``frame`` in the form the fitted model was trained on."""
        if self.sklearn_input == "frame":
            return frame[self.model_columns]
        if self.sklearn_input == "text":
            return frame[self.model_columns[0]].to_numpy()
        return frame[self.model_columns].to_numpy()

    def request_columns(self, frame: Any) -> list[list[Any]]:
        """The rows of ``frame`` as a JSON request carries them, one list per feature: Python
        numbers, booleans and strings, None for a missing value. The parity gate sends these
        through the bundle's own runtime, so what it verifies is the path requests take."""
        return [_request_values(frame[f.name], f.type) for f in self.features]


def _request_values(column: Any, kind: str) -> list[Any]:
    convert = _TO_JSON[kind]
    return [None if _is_missing(v) else convert(v) for v in column.tolist()]


_TO_JSON: dict[str, Any] = {"number": float, "integer": int, "boolean": bool, "string": str}


def _is_missing(value: Any) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def as_frame(sample: Any, model: Any) -> Any:
    """Give the sample column names: a DataFrame as is, an array with the model's feature names."""
    import pandas as pd

    if isinstance(sample, pd.DataFrame):
        return sample
    names = getattr(model, "feature_names_in_", None)
    width = sample.shape[1] if sample.ndim == 2 else 1
    if names is None or len(names) != width:
        names = [f"x{i}" for i in range(width)]
    return pd.DataFrame(sample.reshape(len(sample), width), columns=[str(n) for n in names])


def infer_schema(model: Any, sample: Any) -> tuple[Schema, Any]:
    """Infer the schema; return it with the sample as a DataFrame restricted to the features."""
    import pandas as pd

    from_array = not isinstance(sample, pd.DataFrame)
    frame, expected, dropped = _model_columns(model, as_frame(sample, model))
    columns = [str(c) for c in frame.columns]
    frame = missing_as_nan(frame)
    uses = introspect.column_uses(model, columns)
    text_model = introspect.is_named(introspect.first_step(model), introspect.TEXT_VECTORIZERS)
    features = [_feature(name, frame[name], uses.get(name)) for name in columns]
    if text_model:
        sklearn_input = "text"
        if len(features) != 1 or features[0].dtype != "string":
            raise SlpackError(
                "the model starts with a text vectorizer, so the sample must have exactly "
                "one text column."
            )
    else:
        sklearn_input = "frame" if expected else "array"
    layout = _layout(model, features, from_array, text_model)
    return Schema(layout, features, sklearn_input, dropped_columns=dropped), frame


def _model_columns(model: Any, frame: Any) -> tuple[Any, bool, list[str]]:
    """The sample's columns the model reads, in its order: (frame, whether the model names its
    columns, the sample's other columns). Refuses a sample that lacks one or has too few."""
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    expected = getattr(model, "feature_names_in_", None)
    if expected is None:
        n_in = getattr(model, "n_features_in_", None)
        if n_in is not None and n_in != len(columns):
            raise SlpackError(
                f"the sample has {len(columns)} column(s) but the model expects {n_in}; give a "
                "sample with the training data's columns, in order."
            )
        return frame, False, []
    expected = [str(c) for c in expected]
    missing = [c for c in expected if c not in columns]
    if missing:
        raise SlpackError(
            f"the sample lacks column(s) {', '.join(missing[:5])} that the model was trained on; "
            "give a sample with the same columns as the training data."
        )
    return frame[expected], True, [c for c in columns if c not in expected]


def _layout(model: Any, features: list[Feature], from_array: bool, text_model: bool) -> str:
    """``tensor`` (one float tensor) for arrays and plain numeric models, else ``columns`` (one
    input per column); a tensor layout makes every feature float32 (widened later if needed)."""
    numeric_only = all(f.dtype != "string" for f in features)
    uses_columns = introspect.contains(model, ("ColumnTransformer", *introspect.ENCODERS))
    if not (from_array or (numeric_only and not uses_columns and not text_model)):
        return "columns"
    if not numeric_only:
        raise SlpackError("a .npy sample must be numeric; give text or categories as CSV or JSON.")
    for f in features:
        f.dtype = "float32"  # one float tensor; use_float_dtype may widen it
    return "tensor"


def missing_as_nan(frame: Any) -> Any:
    """``null`` in a request is NaN to scikit-learn, as pandas reads a missing CSV cell.

    Parquet and JSON samples carry None instead, which scikit-learn's imputers do not see as
    missing; normalising here makes the sample mean what requests will mean.
    """
    frame = frame.copy()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].where(frame[name].notna(), np.nan)
    return frame


def _feature(name: str, column: Any, use: introspect.ColumnUse | None) -> Feature:
    import pandas as pd

    dtype = column.dtype
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or dtype.kind in "OSU"
        or pd.api.types.is_string_dtype(dtype)
    ):
        return _string_feature(name, column, use)
    make = _NON_STRING.get(dtype.kind)
    if make is None:
        raise SlpackError(
            f"column {name!r} has {dtype} values, which slpack cannot feed to ONNX; convert it "
            "to numbers, booleans or strings before training."
        )
    return make(name, use)


def _string_feature(name: str, column: Any, use: introspect.ColumnUse | None) -> Feature:
    """Text or a category. Only categories the fitted model holds are recorded: the sample's own
    values never go into the manifest (they may be personal data, and they ship in every copy)."""
    bad = next((v for v in column.dropna() if not isinstance(v, str)), None)
    if bad is not None:
        raise SlpackError(
            f"column {name!r} mixes text with {type(bad).__name__} values; make every value in "
            "it a string (or every value a number) in the sample."
        )
    if use is not None and use.text:
        return Feature(name, "string", "string", "text")
    if use is None or use.categories is None:
        return Feature(name, "string", "string", "categorical", unknown="accept")
    cats = [c for c in use.categories if isinstance(c, str)]
    unknown = "reject" if use.rejects_unknown else "accept"
    return Feature(name, "string", "string", "categorical", categories=cats, unknown=unknown)


# Booleans and integers the model uses as numbers are fed as floats (requests still must send a
# bool or an integer): skl2onnx concatenates the columns of one transformer in the type of the
# first, so ["visits" (int), "spend" (float)] into an imputer, or a bool passed through beside
# scaled floats, would not convert; scikit-learn itself turns them into floats there.


def _boolean_feature(name: str, use: introspect.ColumnUse | None) -> Feature:
    if use is not None and use.categories is not None:
        return Feature(name, "boolean", "bool", "boolean")
    return Feature(name, "boolean", "float32", "boolean")


def _integer_feature(name: str, use: introspect.ColumnUse | None) -> Feature:
    if use is None or use.categories is None:
        return Feature(name, "integer", "float32", "numeric")
    unknown = "reject" if use.rejects_unknown else "accept"
    cats = [int(c) for c in use.categories if isinstance(c, (int, np.integer))]
    return Feature(name, "integer", "int64", "categorical", categories=cats, unknown=unknown)


def _number_feature(name: str, use: introspect.ColumnUse | None) -> Feature:
    return Feature(name, "number", "float32", "numeric")


_NON_STRING = {
    "b": _boolean_feature,
    "i": _integer_feature,
    "u": _integer_feature,
    "f": _number_feature,
}
