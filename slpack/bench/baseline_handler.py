"""The baseline: the Lambda function you would write to serve the pipeline with scikit-learn.

``slpack bench`` copies this file as ``lambda_function.py`` (handler string
``lambda_function.lambda_handler``) beside ``model.joblib`` and ``baseline.json``, and runs it
with only scikit-learn's installed stack on ``sys.path``. It is written to be a fair opponent:
the model is loaded once per container at import, classifiers call ``predict_proba`` once and
take the label from it (not a second pass through the pipeline), pandas is imported only for
pipelines trained on DataFrames, and it answers the same events, request bodies and response
shape as ``slpack_handler``. It validates nothing, which only flatters its figures.

It imports nothing from slpack: it must run where slpack is not installed.
"""

import json
import os

import joblib
import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "baseline.json")) as _fh:
    CONFIG = json.load(
        _fh
    )  # {"input": frame|text|array, "columns": [...], "task": ..., "model": {...}}
MODEL = joblib.load(os.path.join(_HERE, "model.joblib"))
COLUMNS = CONFIG["columns"]

if CONFIG["input"] == "frame":
    import pandas as pd


def _rows(payload: dict) -> object:
    """The request's rows in the form the pipeline was trained on."""
    if "inputs" in payload:
        columnar = payload["inputs"]
        records = [dict(zip(columnar, values)) for values in zip(*columnar.values())]
    else:
        records = payload["instances"]
    if CONFIG["input"] == "frame":
        return pd.DataFrame.from_records(records, columns=COLUMNS)
    if CONFIG["input"] == "text":
        return np.array(
            [r[COLUMNS[0]] if isinstance(r, dict) else r for r in records], dtype=object
        )
    rows = [[r[c] for c in COLUMNS] if isinstance(r, dict) else r for r in records]
    return np.array(rows, dtype=np.float64)


def _predictions(rows: object) -> list:
    task = CONFIG["task"]
    if task == "transformer":
        embedding = MODEL.transform(rows)
        dense = embedding.toarray() if hasattr(embedding, "toarray") else embedding
        return [{"embedding": row} for row in np.asarray(dense, dtype=np.float64).tolist()]
    if task == "regressor":
        return [{"value": v} for v in np.asarray(MODEL.predict(rows)).tolist()]
    classes = MODEL.classes_
    if not hasattr(MODEL, "predict_proba"):
        return [{"label": label} for label in np.asarray(MODEL.predict(rows)).tolist()]
    probabilities = MODEL.predict_proba(rows)
    labels = classes[probabilities.argmax(axis=1)].tolist()
    names = [str(c) for c in classes.tolist()]
    return [
        {"label": label, "probabilities": dict(zip(names, row))}
        for label, row in zip(labels, probabilities.tolist())
    ]


def lambda_handler(event: dict, context: object) -> dict:
    """An HTTP event (Function URL, API Gateway) or a direct invocation in, predictions out."""
    http = "body" in event and ("requestContext" in event or "httpMethod" in event)
    try:
        payload = json.loads(event["body"] or "{}") if http else event
        response = {"predictions": _predictions(_rows(payload)), "model": CONFIG["model"]}
        status = 200
    except (KeyError, TypeError, ValueError) as exc:
        response = {"error": {"code": "invalid_request", "message": str(exc)}}
        status = 400
    if not http:
        return response
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(response),
    }
