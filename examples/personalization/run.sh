#!/usr/bin/env bash
# The quickstart: train an example pipeline, build it into a verified function bundle, and
# answer one request through the Lambda runtime emulator. Offline; no AWS account needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
SLPACK="${SLPACK:-.venv/bin/slpack}"

echo "== 1. train the example pipeline"
"$PY" examples/personalization/train.py

echo "== 2. build: convert to ONNX, check parity against scikit-learn, bundle the function"
"$SLPACK" build examples/personalization/model.joblib --sample examples/personalization/sample.csv --name churn --out "${OUT:-dist}"

echo "== 3. answer one request with the bundled handler"
"$SLPACK" invoke "${OUT:-dist}/churn" --data @examples/personalization/request.json
