"""Regression: disease progression from the diabetes dataset that ships with scikit-learn."""

from __future__ import annotations

from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent


def main() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = make_pipeline(
        StandardScaler(), GradientBoostingRegressor(n_estimators=200, max_depth=3, random_state=0)
    ).fit(X, y)
    joblib.dump(model, HERE / "model.joblib")
    X.to_csv(HERE / "sample.csv", index=False)
    print(f"trained on {len(X)} patients, {X.shape[1]} features")


if __name__ == "__main__":
    main()
