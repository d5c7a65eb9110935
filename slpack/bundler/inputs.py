"""Load what the user hands to ``slpack build``: a fitted model and a sample of its input.

Every failure here is the user's to fix (wrong path, wrong format, unfitted model), so each one
becomes a :class:`~slpack.errors.SlpackError` with one sentence that says what to do.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from slpack.errors import SlpackError
from slpack_handler.errors import first_line

PICKLE_SUFFIXES = {".joblib", ".pkl", ".pickle"}
SAMPLE_SUFFIXES = {".csv", ".parquet", ".pq", ".npy", ".json", ".jsonl"}


class PickleWarning(UserWarning):
    """Loading a pickle (or joblib) file runs code stored in it."""


def _warn_pickle(path: Path) -> None:
    """Once per build (one model is loaded per build), before the file is loaded."""
    warnings.warn(
        f"{path.name} is a pickle-based file: loading it executes code stored in it, so only "
        "build models you trust; skops files (.skops) are the safer format.",
        PickleWarning,
        stacklevel=3,
    )


# Types skops reports as untrusted that slpack has reviewed: fitted-state containers scikit-learn
# and numpy define, rebuilt from plain arrays and numbers, with no code path that calls back into
# user-supplied objects. Exact names only (never a prefix): anything else in a file must be named
# with --trust after the user has reviewed it.
REVIEWED_SKOPS_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.utils._bunch.Bunch",
    }
)
NO_PICKLE_ENV = "SLPACK_NO_PICKLE"


def load_model(path: Path, no_pickle: bool = False, trust: list[str] | tuple[str, ...] = ()) -> Any:
    """Load a fitted estimator from joblib, pickle or skops, and check it is fitted.

    ``no_pickle`` (or SLPACK_NO_PICKLE=1 in the environment, for CI) refuses pickle-based files
    before they are opened; ``trust`` names skops types the user has reviewed.
    """
    if not path.is_file():
        raise SlpackError(f"model file {path} does not exist; pass the path of a fitted model.")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        model = _load_skops(path, frozenset(trust))
    elif suffix in PICKLE_SUFFIXES:
        if no_pickle or os.environ.get(NO_PICKLE_ENV, "").strip().lower() in ("1", "true", "yes"):
            raise SlpackError(
                f"{path.name} is a pickle-based file and pickles are refused here (--no-pickle or "
                f"{NO_PICKLE_ENV}); save the model with skops.io.dump and build the .skops file."
            )
        _warn_pickle(path)
        model = _load_pickle(path)
    else:
        raise SlpackError(
            f"{path.name} has an unknown model format; save the model with joblib (.joblib), "
            "pickle (.pkl) or skops (.skops)."
        )
    _check_fitted(model, path)
    return model


def _load_pickle(path: Path) -> Any:
    try:
        import joblib

        return joblib.load(path)
    except ModuleNotFoundError as exc:
        raise SlpackError(
            f"{path.name} needs the module {exc.name!r} to load; install it in this environment "
            "(a custom step's code must be importable at build time)."
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SlpackError(
            f"{path.name} is not a readable joblib or pickle file ({exc.__class__.__name__}); "
            "save the fitted model with joblib.dump."
        ) from None


def _load_skops(path: Path, trust: frozenset[str]) -> Any:
    """Load with skops' own trust check: every type it does not trust must be reviewed."""
    try:
        import skops.io as sio
    except ImportError:
        raise SlpackError(
            "loading .skops files needs skops; install it with pip install 'slpack[formats]'."
        ) from None
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises a variety of errors for bad archives
        raise SlpackError(f"{path.name} is not a readable skops file ({exc}).") from None
    refused = sorted(set(untrusted) - REVIEWED_SKOPS_TYPES - trust)
    if refused:
        flags = " ".join(f"--trust {t}" for t in refused)
        raise SlpackError(
            f"{path.name} holds types skops does not trust: {', '.join(refused)}; loading them "
            f"could run code, so review them and pass {flags} to build it."
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise SlpackError(f"{path.name} is not a readable skops file ({exc}).") from None


def _check_fitted(model: Any, path: Path) -> None:
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        raise SlpackError(
            f"{path.name} holds a {type(model).__name__}, not a scikit-learn estimator; save the "
            "fitted estimator or Pipeline itself."
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise SlpackError(
            f"the {type(model).__name__} in {path.name} is not fitted; call fit() before saving it."
        ) from None


def load_sample(path: Path) -> Any:
    """Load the sample as a pandas DataFrame (tabular files) or a numpy array (``.npy``)."""
    if not path.is_file():
        raise SlpackError(
            f"sample file {path} does not exist; pass a CSV, Parquet, .npy or JSON file."
        )
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise SlpackError(
            f"{path.name} is not a supported sample format; use CSV, Parquet, .npy or JSON records."
        )
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            if array.ndim == 1:
                array = array.reshape(-1, 1) if array.dtype.kind in "fiub" else array
            return array
        import pandas as pd

        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise SlpackError(
                    "reading Parquet needs pyarrow; install it with pip install 'slpack[formats]' "
                    "or give the sample as CSV."
                ) from None
            frame = pd.read_parquet(path)
        else:
            frame = _read_json_records(path)
    except SlpackError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SlpackError(
            f"could not read the sample {path.name} ({first_line(exc)}); check its format."
        ) from None
    if len(frame) == 0:
        raise SlpackError(
            f"the sample {path.name} has no rows; give at least one row of real input."
        )
    return frame


def _read_json_records(path: Path) -> Any:
    import pandas as pd

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        data = json.loads(text)
        # Accept the request body shapes too, so a saved request doubles as a sample.
        if isinstance(data, dict) and "instances" in data:
            data = data["instances"]
        elif isinstance(data, dict) and "inputs" in data:
            return pd.DataFrame(data["inputs"])
        records = data
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SlpackError(
            f"{path.name} must hold a list of JSON objects (one per row), one per line for .jsonl."
        )
    return pd.DataFrame.from_records(records)


def bound_strings(frame: Any, columns: list[str], limit: int) -> tuple[Any, list[str]]:
    """Leave out sample rows with a string longer than requests may send (``limit`` characters).

    Such a row can never reach the function (the handler answers 400 for it), so it would only
    cost the build memory and time (a 10 MB text cell costs gigabytes in the text converters).
    Returns the kept rows and a note saying how many were left out; none left is an error.
    """
    too_long = None
    for name in columns:
        column = frame[name]
        if getattr(column.dtype, "kind", "O") in "biufcmM":
            continue  # numbers, booleans and dates hold no strings
        over = column.astype(object).map(lambda v: isinstance(v, str) and len(v) > limit)
        over = over.astype(bool)
        too_long = over if too_long is None else too_long | over
    if too_long is None or not too_long.any():
        return frame, []
    kept = frame[~too_long]
    if not len(kept):
        raise SlpackError(
            f"every sample row has a string longer than {limit} characters, which requests "
            "cannot send; give rows as requests will send them, or raise --max-string-length."
        )
    note = (
        f"{int(too_long.sum())} sample rows with strings over {limit} characters left out "
        "(requests cannot send them)"
    )
    return kept.reset_index(drop=True), [note]
