"""LightGBM and XGBoost estimators, converted by onnxmltools with no flag.

onnxmltools ships converters for both libraries' scikit-learn estimators, but skl2onnx only uses
them once they are registered, which every team otherwise copies from onnxmltools' docs into a
``--converters`` module. When a library and onnxmltools are importable, these registrations are
added for the conversion (:mod:`slpack.bundler.registry`), so the estimators convert as a final
step, behind preprocessing and inside meta-estimators. A converter the user registered stands.
"""

from __future__ import annotations

import importlib
from typing import Any

from slpack.bundler.registry import Registration, fixed

EXTRA = "slpack[boosting]"  # what to install when a library is present but onnxmltools is not
LIBRARIES = ("lightgbm", "xgboost")
_CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}


def registrations() -> list[Registration]:
    """The registrations for every boosting library importable here (none without onnxmltools)."""
    try:
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
    except ImportError:
        return []
    found: list[Registration] = []
    for library, module, classes in (
        ("lightgbm", "onnxmltools.convert.lightgbm.operator_converters.LightGbm", _LIGHTGBM),
        ("xgboost", "onnxmltools.convert.xgboost.operator_converters.XGBoost", _XGBOOST),
    ):
        estimators = _import(library)
        converters = _import(module)
        if estimators is None or converters is None:
            continue
        convert = getattr(converters, f"convert_{library}")
        for name, classifier in classes:
            cls = getattr(estimators, name, None)
            if cls is None:
                continue
            found.append(
                Registration(
                    cls,
                    f"{library.capitalize()}{name}",
                    fixed(convert),
                    calculate_linear_classifier_output_shapes
                    if classifier
                    else calculate_linear_regressor_output_shapes,
                    options=_CLASSIFIER_OPTIONS if classifier else None,
                )
            )
    return found


_LIGHTGBM = (("LGBMClassifier", True), ("LGBMRegressor", False))
_XGBOOST = (
    ("XGBClassifier", True),
    ("XGBRegressor", False),
    ("XGBRFClassifier", True),
    ("XGBRFRegressor", False),
)


def missing_extra(model_module: str) -> bool:
    """Whether an estimator from ``model_module`` would convert once ``slpack[boosting]`` is in."""
    library = model_module.split(".")[0]
    return library in LIBRARIES and _import("onnxmltools") is None


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
