"""Embedding at the edge: StandardScaler + PCA turn a wine's 13 measurements into 4 numbers.

The function returns vectors; the caller does the nearest-neighbour lookup (nearest.py), as an
edge device or a search service would.
"""

from __future__ import annotations

from pathlib import Path

import joblib
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent


def main() -> None:
    X, _ = load_wine(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), PCA(n_components=4, random_state=0)).fit(X)
    joblib.dump(model, HERE / "model.joblib")
    X.to_csv(HERE / "sample.csv", index=False)
    print(f"fitted on {len(X)} wines: {X.shape[1]} measurements -> 4-d embedding")


if __name__ == "__main__":
    main()
