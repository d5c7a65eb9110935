"""The baseline function: the same pipeline served by scikit-learn, laid out as a Lambda function.

The folder holds ``lambda_function.py`` (a copy of :mod:`slpack.bench.baseline_handler`),
the user's ``model.joblib`` and ``baseline.json``: what the handler needs to know that a
hand-written handler would hard-code (how the pipeline takes its rows, the column order, the
task, and the model identity it reports). How the pipeline takes its rows is decided by the same
schema inference ``slpack build`` uses, so both functions read a request the same way.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slpack.errors import SlpackError

HANDLER = Path(__file__).with_name("baseline_handler.py")
MODULE, FUNCTION = "lambda_function", "lambda_handler"


@dataclass(frozen=True)
class Baseline:
    """The baseline's function folder and whether its stack needs pandas."""

    task_root: Path
    needs_pandas: bool


def load_model(path: Path) -> Any:
    """The user's fitted pipeline (joblib or pickle: what the baseline loads at run time)."""
    if not path.is_file():
        raise SlpackError(
            f"baseline model {path} does not exist; pass the .joblib file the bundle was "
            "built from."
        )
    if path.suffix.lower() not in (".joblib", ".pkl", ".pickle"):
        raise SlpackError(
            "the baseline loads its model with joblib, so give a .joblib or .pkl file, "
            f"not {path.name}."
        )
    from slpack.bundler.inputs import PickleWarning
    from slpack.bundler.inputs import load_model as load

    with warnings.catch_warnings():
        # The user built the bundle from this file (and was warned then); loading it is the
        # baseline's whole point.
        warnings.simplefilter("ignore", PickleWarning)
        return load(path)


def write_baseline(
    model_path: Path, model: Any, rows: list[dict[str, Any]], manifest: dict[str, Any], dest: Path
) -> Baseline:
    """Write the baseline function folder for ``model`` into ``dest``."""
    import pandas as pd

    from slpack.bundler.schema import infer_schema

    schema, _ = infer_schema(model, pd.DataFrame.from_records(rows))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HANDLER, dest / f"{MODULE}.py")
    shutil.copyfile(model_path, dest / "model.joblib")
    config = {
        "input": schema.sklearn_input,
        "columns": schema.names,
        "task": manifest["task"],
        "model": {
            "name": manifest["name"],
            "version": manifest["version"],
            "sha256": manifest["model"]["sha256"],
        },
    }
    (dest / "baseline.json").write_text(json.dumps(config, indent=2))
    return Baseline(dest, needs_pandas=schema.sklearn_input == "frame")
