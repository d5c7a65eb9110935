"""The coverage matrix: every supported estimator builds, passes parity, and the *bundled handler*
answers requests the way scikit-learn does."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import invoke_bundle
from pipelines import COVERAGE

from slpack.bundler import build_bundle, introspect

REQUEST_ROWS = 12


def _record(row: pd.Series) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, float) and math.isnan(value):
            out[key] = None
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out


def _expected(model: Any, task: str, rows: pd.DataFrame, sklearn_rows: Any) -> list[dict[str, Any]]:
    if task == introspect.CLASSIFIER:
        labels = model.predict(sklearn_rows)
        proba = model.predict_proba(sklearn_rows) if introspect.has_predict_proba(model) else None
        return [
            {
                "label": labels[i].item() if isinstance(labels[i], np.generic) else labels[i],
                **(
                    {"probabilities": dict(zip([str(c) for c in model.classes_], proba[i]))}
                    if proba is not None
                    else {}
                ),
            }
            for i in range(len(rows))
        ]
    if task == introspect.REGRESSOR:
        return [{"value": float(v)} for v in np.ravel(model.predict(sklearn_rows))]
    return [{"embedding": list(map(float, v))} for v in np.asarray(model.transform(sklearn_rows))]


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(COVERAGE))
def test_builds_and_answers_like_sklearn(case: str, tmp_path: Path) -> None:
    model, sample = COVERAGE[case]()
    result = build_bundle(model, sample, tmp_path / "dist", name=case)
    assert result.parity.passed, result.parity.worst
    manifest = json.loads((result.bundle_dir / "slpack.json").read_text())
    assert manifest["model"]["sha256"] == result.manifest["model"]["sha256"]

    rows = sample.head(REQUEST_ROWS)
    from slpack.bundler.schema import infer_schema

    schema, frame = infer_schema(model, rows)
    expected = _expected(model, manifest["task"], rows, schema.sklearn_rows(frame))
    body = {"instances": [_record(r) for _, r in frame.iterrows()]}
    columnar = {"inputs": {c: [_record(r)[c] for _, r in frame.iterrows()] for c in frame.columns}}
    responses = invoke_bundle(result.bundle_dir, [body, columnar], tmp_path)

    for response in responses:
        assert "predictions" in response, response
        assert response["model"]["sha256"] == manifest["model"]["sha256"]
        predictions = response["predictions"]
        assert len(predictions) == len(expected)
        for got, want in zip(predictions, expected):
            if "label" in want:
                assert got["label"] == want["label"]
            if "probabilities" in want:
                assert set(got["probabilities"]) == set(want["probabilities"])
                for cls, p in want["probabilities"].items():
                    assert got["probabilities"][cls] == pytest.approx(p, abs=1e-5)
            if "value" in want:
                value = got["value"][0] if isinstance(got["value"], list) else got["value"]
                assert value == pytest.approx(want["value"], rel=1e-4, abs=1e-5)
            if "embedding" in want:
                assert got["embedding"] == pytest.approx(want["embedding"], rel=1e-4, abs=1e-5)
