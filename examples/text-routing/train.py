"""Text routing: send a support ticket to the right queue from its raw text.

TfidfVectorizer + LogisticRegression on the bundled corpus (tickets.csv). Requests carry the raw
text; the ONNX graph tokenizes it. The token pattern is set explicitly to ASCII words, which
onnxruntime's regex engine and Python's agree on (the parity gate checks it).
"""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

HERE = Path(__file__).resolve().parent


def main() -> None:
    tickets = pd.read_csv(HERE / "tickets.csv")
    X, y = tickets[["text"]], tickets["queue"]
    vectorizer = TfidfVectorizer(
        token_pattern=r"\b[a-zA-Z0-9]+\b", ngram_range=(1, 2), sublinear_tf=True
    )
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("tfidf", vectorizer, "text")])),
            ("clf", LogisticRegression(C=10, max_iter=1000)),
        ]
    )
    model.fit(X, y)
    joblib.dump(model, HERE / "model.joblib")
    X.to_csv(HERE / "sample.csv", index=False)
    print(f"trained on {len(X)} tickets, queues: {', '.join(model.classes_)}")


if __name__ == "__main__":
    main()
