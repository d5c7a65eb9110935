"""The caller's side: embed a catalog and a query with the function, then find neighbours.

Reads the edge function's JSON-lines answers (one response per line) from stdin: the first
line answers the catalog request, the second the query request; prints the 3 nearest catalog
rows for each query by cosine similarity.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def nearest(catalog: np.ndarray, queries: np.ndarray, k: int = 3) -> list[list[tuple[int, float]]]:
    unit = catalog / np.linalg.norm(catalog, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q @ unit.T
    order = np.argsort(-scores, axis=1)[:, :k]
    return [[(int(j), float(scores[i, j])) for j in row] for i, row in enumerate(order)]


def main() -> None:
    lines = [json.loads(line) for line in sys.stdin if line.strip()]
    catalog = np.array([p["embedding"] for p in lines[0]["predictions"]])
    queries = np.array([p["embedding"] for p in lines[1]["predictions"]])
    for i, hits in enumerate(nearest(catalog, queries)):
        print(f"query {i}: " + ", ".join(f"wine #{j} (cos {s:.3f})" for j, s in hits))


if __name__ == "__main__":
    main()
