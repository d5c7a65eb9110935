#!/usr/bin/env bash
# Embedding at the edge: build the edge target, embed a catalog and queries with `python edge.zip`
# (numpy + onnxruntime only), and let the caller find nearest neighbours.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"; SLPACK="${SLPACK:-.venv/bin/slpack}"; OUT="${OUT:-dist}"
"$PY" examples/embedding/train.py
"$SLPACK" build examples/embedding/model.joblib --sample examples/embedding/sample.csv --name wine-embedding --out "$OUT" --target edge
"$PY" examples/embedding/requests.py | "$PY" "$OUT/wine-embedding/deploy/edge/edge.zip" | "$PY" examples/embedding/nearest.py
