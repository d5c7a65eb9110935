#!/usr/bin/env bash
# Text routing: train on the bundled tickets, build, route two raw-text tickets.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"; SLPACK="${SLPACK:-.venv/bin/slpack}"; OUT="${OUT:-dist}"
"$PY" examples/text-routing/train.py
"$SLPACK" build examples/text-routing/model.joblib --sample examples/text-routing/sample.csv --name ticket-router --out "$OUT"
"$SLPACK" invoke "$OUT/ticket-router" --data @examples/text-routing/request.json
