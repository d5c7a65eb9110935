"""Personalization: a churn / propensity score from mixed-type customer data.

Writes ``model.joblib`` and ``sample.csv`` next to this file. The data is generated, so the
example runs offline and gives the same model on every machine.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent


def customers(n: int = 2000, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, n).astype(float),
            "monthly_spend": rng.gamma(2.0, 25.0, n).round(2),
            "support_tickets": rng.poisson(1.5, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(["eu", "us", "apac"], n),
        }
    )
    frame.loc[rng.random(n) < 0.04, "tenure_months"] = np.nan
    frame.loc[rng.random(n) < 0.03, "region"] = np.nan
    risk = (
        0.4 * frame["support_tickets"]
        - 0.04 * frame["tenure_months"].fillna(24)
        + (frame["plan"] == "basic") * 0.8
    )
    churn = (risk + rng.normal(0, 0.7, n) > 0.3).astype(int)
    return frame, pd.Series(churn, name="churn")


def main() -> None:
    X, y = customers()
    prep = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                ["tenure_months", "monthly_spend", "support_tickets"],
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["plan", "region"],
            ),
        ]
    )
    model = Pipeline(
        [("prep", prep), ("model", GradientBoostingClassifier(n_estimators=100, random_state=0))]
    ).fit(X, y)
    joblib.dump(model, HERE / "model.joblib")
    X.head(500).to_csv(HERE / "sample.csv", index=False)
    print(f"trained {type(model[-1]).__name__} on {len(X)} rows -> {HERE / 'model.joblib'}")


if __name__ == "__main__":
    main()
