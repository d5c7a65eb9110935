"""The scikit-learn runtime: the original fitted pipeline, for steps ONNX cannot express.

The model file is the pipeline saved with skops (or, only when the build was given
``--trust-pickle``, joblib), verified against the manifest's sha256 before it is read; skops
loads only the types the build recorded as trusted. The function's image installs the exact
distribution versions the build recorded (``runtime.requirements``), so the pipeline answers
here as it answered the parity gate. Per request: validated columns -> the rows as the pipeline
was fitted on them (a DataFrame with the training columns and dtypes, an array, or texts) ->
``predict`` / ``predict_proba`` / ``decision_function`` / ``transform`` -> outputs as nested
lists in the manifest's order, the form every runtime hands the response shaper.

numpy, pandas, scikit-learn and skops are imported here only, when a bundle names this runtime.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from slpack_handler.config import Settings
from slpack_handler.errors import ModelUnavailable, first_line
from slpack_handler.schema import Parsed

_NUMPY = {"number": np.float64, "integer": np.int64, "boolean": np.bool_, "string": object}


def _load(data: bytes, model_format: str, trusted: list[str]) -> Any:
    if model_format == "skops":
        import skops.io as sio

        return sio.loads(data, trusted=trusted)
    if model_format == "joblib":  # the build was told --trust-pickle
        import joblib

        return joblib.load(io.BytesIO(data))
    raise ModelUnavailable(f"the sklearn runtime cannot read {model_format!r} model files")


class SklearnRuntime:
    """The loaded pipeline and how requests become its rows, resolved at load."""

    name = "sklearn"
    bulk = None  # values are handed to pandas/numpy as a whole column anyway

    def __init__(self, manifest: dict[str, Any], settings: Settings, data: bytes) -> None:
        runtime = manifest.get("runtime") or {}
        try:
            self.model = _load(data, manifest["model"]["format"], list(runtime.get("trusted", [])))
        except ModelUnavailable:
            raise
        except Exception as exc:
            first = first_line(exc)
            raise ModelUnavailable(
                f"the sklearn runtime could not load the model ({first}); install the "
                "versions in the manifest's runtime.requirements"
            ) from None
        self.feed = str(runtime.get("feed", "frame"))
        self.categories: dict[str, list[Any]] = dict(runtime.get("categories") or {})
        self.features = [(f["name"], f["type"]) for f in manifest["input"]["features"]]
        # columns the pipeline is handed but never reads (a dropped id): filled with nulls
        sent = {name for name, _ in self.features}
        self.columns = list(runtime.get("columns") or [name for name, _ in self.features])
        self.unread = [c for c in self.columns if c not in sent]
        self.task = manifest["task"]
        self.names = list(manifest["output"]["names"])

    def rows(self, parsed: Parsed) -> Any:
        """The validated columns as the pipeline was fitted on them."""
        columns = {
            name: _column(values, kind)
            for (name, kind), values in zip(self.features, parsed.columns)
        }
        if self.feed == "text":
            return next(iter(columns.values()))
        if self.feed == "array":
            return np.column_stack([c.astype(np.float64) for c in columns.values()])
        import pandas as pd

        for name in self.unread:
            columns[name] = np.full(parsed.rows, np.nan, dtype=object)
        frame = pd.DataFrame({name: columns[name] for name in self.columns})
        for name, categories in self.categories.items():
            frame[name] = pd.Categorical(frame[name], categories=categories)
        return frame

    def run(self, parsed: Parsed) -> list[Any]:
        """The model's outputs for ``parsed``, in the manifest's order, as nested lists."""
        rows = self.rows(parsed)
        return _OUTPUTS[self.task](self.model, rows)[: len(self.names)]


def _column(values: list[Any], kind: str) -> Any:
    """One request column as numpy values; a missing value is NaN (strings: NaN in an object
    column), as pandas reads a missing CSV cell and as the pipeline saw missing values in
    training."""
    if kind == "string":
        return np.array([np.nan if v is None else v for v in values], dtype=object)
    if any(v is None for v in values):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array(values, dtype=_NUMPY[kind])


def _listed(values: Any) -> list[Any]:
    out = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
    listed: list[Any] = out.tolist()
    return listed


def _classifier(model: Any, rows: Any) -> list[Any]:
    labels = _listed(model.predict(rows))
    if not hasattr(model, "predict_proba"):
        return [labels]
    return [labels, _listed(model.predict_proba(rows))]


def _multilabel(model: Any, rows: Any) -> list[Any]:
    labels = _listed(model.predict(rows))
    if not hasattr(model, "predict_proba"):
        return [labels]
    return [labels, [_listed(p) for p in model.predict_proba(rows)]]


def _outlier(model: Any, rows: Any) -> list[Any]:
    return [_listed(model.predict(rows)), _listed(model.decision_function(rows))]


def _regressor(model: Any, rows: Any) -> list[Any]:
    return [_listed(model.predict(rows))]


def _transformer(model: Any, rows: Any) -> list[Any]:
    return [_listed(model.transform(rows))]


_OUTPUTS = {
    "classifier": _classifier,
    "multilabel": _multilabel,
    "outlier": _outlier,
    "regressor": _regressor,
    "transformer": _transformer,
}


def open_runtime(manifest: dict[str, Any], settings: Settings, data: bytes) -> SklearnRuntime:
    return SklearnRuntime(manifest, settings, data)
