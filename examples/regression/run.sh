#!/usr/bin/env bash
# Regression: diabetes progression; one request as a record, one as a plain list in feature order.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"; SLPACK="${SLPACK:-.venv/bin/slpack}"; OUT="${OUT:-dist}"
"$PY" examples/regression/train.py
"$SLPACK" build examples/regression/model.joblib --sample examples/regression/sample.csv --name diabetes --out "$OUT"
"$SLPACK" invoke "$OUT/diabetes" --data @examples/regression/request.json
