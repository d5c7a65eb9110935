"""The drift baseline: what the model was built on, as bins and the share of rows in each.

The handler counts every answered request into these bins (``slpack_handler.drift``) and the
dashboard, the alarm and ``slpack drift`` compare the counts with the shares here (the
population stability index, docs/drift.md). The rows are the sample, or a ``--baseline`` file
(the training set, say); per feature:

- numbers: up to :data:`NUMBER_BINS` quantile bins; integers get whole-number edges;
- categories: the model's own categories (the encoder's, as the manifest lists them), the most
  common :data:`TOP_CATEGORIES` one bin each, every other value in "other";
- booleans: false, true;
- free text (and strings without model categories): quantile bins of the length in characters;
- a last bin for missing values when the feature accepts them;

and the model's own answers on the same rows: class shares, or quantile bins of the value.

Only aggregates go into the manifest, which ships in every copy of the function: no value of the
rows except categories the fitted model holds, and no text at all. Edges are rounded to three
significant digits of the feature's range (a grid of 1/100 to 1/1000 of it) and deduplicated,
and a bin with fewer than :data:`MIN_BIN_ROWS` rows is merged into a neighbour, so no edge sits
on a value that only one row has. Shares are smoothed, ``(count + 0.5) / (rows + 0.5 * bins)``,
so none is zero (the index takes the logarithm of each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from slpack.bundler import inputs, parity
from slpack.bundler.schema import Feature, Schema, as_frame, missing_as_nan
from slpack.errors import SlpackError
from slpack_handler.contract import MAX_PREDICTION_BINS
from slpack_handler.errors import first_line

if TYPE_CHECKING:
    from slpack_handler.contract import Baseline, FeatureBaseline, PredictionBaseline

NUMBER_BINS = 10  # deciles: the usual resolution of the population stability index
MIN_BIN_ROWS = 10  # fewer rows in a bin: merged into a neighbour (no edge pins a single row)
TOP_CATEGORIES = 20  # categories with a bin of their own; the rest share "other"
MAX_ROWS = 50_000  # rows a baseline is measured on (an even, seeded sample of a larger file)
SMOOTHING = 0.5  # pseudo-rows per bin (Jeffreys): no share is zero
SHARE_DIGITS = 4  # significant digits of a share


@dataclass
class Reference:
    """The rows the baseline describes, with the columns the model reads, and where from."""

    frame: Any
    source: str


def reference_rows(model: Any, schema: Schema, sample: Any, path: Path | None) -> Reference:
    """The ``--baseline`` file's rows (checked now, before the slow steps), else the sample's."""
    if path is None:
        return Reference(_limit(sample), "sample")
    path = Path(path)
    if not path.is_file():
        raise SlpackError(
            f"the --baseline file {path} does not exist; pass the rows the model was trained on "
            "(CSV, Parquet, .npy or JSON records)."
        )
    frame = as_frame(inputs.load_sample(path), model)
    frame.columns = [str(c) for c in frame.columns]
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise SlpackError(
            f"the --baseline file {path.name} lacks column(s) {', '.join(missing[:5])} the model "
            "reads; give rows with the sample's columns."
        )
    return Reference(_limit(missing_as_nan(frame[schema.names])), path.name)


def _limit(frame: Any) -> Any:
    if len(frame) <= MAX_ROWS:
        return frame
    return frame.sample(n=MAX_ROWS, random_state=0)


def build_baseline(
    model: Any, schema: Schema, spec: parity.OutputSpec, reference: Reference
) -> Baseline:
    """The manifest's ``baseline``: every feature's bins, and the predictions' (docs/drift.md)."""
    frame = reference.frame.reset_index(drop=True)
    return {
        "source": reference.source,
        "rows": len(frame),
        "features": [_feature(f, frame[f.name]) for f in schema.features],
        "prediction": _prediction(model, schema, spec, frame),
    }


def _feature(feature: Feature, column: Any) -> FeatureBaseline:
    present = column.dropna()
    missing = int(len(column) - len(present))
    entry: FeatureBaseline = {"name": feature.name}
    if feature.type == "boolean":
        true = int(present.astype(bool).sum())
        entry["kind"] = "boolean"
        counts = [len(present) - true, true]
    elif feature.categories:
        entry["kind"] = "category"
        entry["categories"], counts = _top(present, feature.categories, TOP_CATEGORIES)
        counts.append(len(present) - sum(counts))  # "other"
    else:
        text = feature.type == "string"
        values = (present.astype(str).str.len() if text else present).to_numpy(dtype=np.float64)
        entry["kind"] = "length" if text else "number"
        entry["edges"] = _edges(values, whole=text or feature.type == "integer")
        counts = _counts(values, entry["edges"])
    entry["missing"] = feature.nullable
    if feature.nullable:
        counts.append(missing)
    entry["shares"] = _shares(counts)
    return entry


def _top(present: Any, known: list[Any], limit: int) -> tuple[list[Any], list[int]]:
    """The most common ``limit`` of ``known`` (ties in a stable order) and their counts."""
    found = present.value_counts().to_dict()  # a dict: pandas' .get may fall back to positions
    counted = [(int(found.get(c, 0)), c) for c in known]
    counted.sort(key=lambda pair: (-pair[0], str(pair[1])))
    kept = counted[:limit]
    return [parity.json_value(c) for _, c in kept], [n for n, _ in kept]


def _edges(values: np.ndarray, *, whole: bool) -> list[float]:
    """Quantile edges, rounded, deduplicated, with every bin holding ``MIN_BIN_ROWS`` rows."""
    bins = min(NUMBER_BINS, len(values) // MIN_BIN_ROWS)
    if bins < 2:
        return []
    spread = float(values.max() - values.min())
    if spread == 0:
        return []
    quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    if whole:
        rounded = {float(math.ceil(q)) for q in quantiles}
    else:
        digits = 2 - math.floor(math.log10(spread))  # three significant digits of the range
        rounded = {round(float(q), digits) for q in quantiles}
    return _merge_small(sorted(rounded), values)


def _merge_small(edges: list[float], values: np.ndarray) -> list[float]:
    """Remove edges until every bin holds at least ``MIN_BIN_ROWS`` rows (an empty first or last
    bin, from an edge at the minimum, goes the same way)."""
    edges = list(edges)
    while edges:
        counts = _counts(values, edges)
        smallest = min(range(len(counts)), key=counts.__getitem__)
        if counts[smallest] >= MIN_BIN_ROWS:
            break
        if smallest == 0:
            del edges[0]
        elif smallest == len(edges) or counts[smallest - 1] <= counts[smallest + 1]:
            del edges[smallest - 1]  # merge with the left neighbour
        else:
            del edges[smallest]  # merge with the right neighbour
    return edges


def _counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Rows per value bin, as the handler bins them: bin ``i`` holds ``edges[i-1] <= x <
    edges[i]`` (numpy's ``searchsorted(side="right")`` is ``bisect_right``)."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return [int(n) for n in np.bincount(index, minlength=len(edges) + 1)]


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts) + SMOOTHING * len(counts)
    return [float(f"{(n + SMOOTHING) / total:.{SHARE_DIGITS}g}") for n in counts]


def _prediction(
    model: Any, schema: Schema, spec: parity.OutputSpec, frame: Any
) -> PredictionBaseline | None:
    """The model's answers on the baseline rows, binned: class shares (the most common classes,
    then "other" beyond :data:`MAX_PREDICTION_BINS`), or value bins of a single-valued regressor.
    None for embeddings and multi-valued regressors."""
    if spec.task not in ("classifier", "regressor"):
        return None
    try:
        answered = parity.sklearn_predictions(model, spec, schema.sklearn_rows(frame))
    except Exception as exc:
        raise SlpackError(
            f"scikit-learn could not predict on the baseline rows "
            f"({first_line(exc)}); give "
            "rows shaped like the training data."
        ) from None
    if spec.task == "classifier":
        import pandas as pd

        labels = pd.Series(answered.labels, dtype=object)
        classes = spec.classes or []
        folded = len(classes) > MAX_PREDICTION_BINS
        kept, counts = _top(labels, classes, MAX_PREDICTION_BINS - 1 if folded else len(classes))
        if folded:
            counts.append(len(labels) - sum(counts))
        return cast(
            "PredictionBaseline",
            {"kind": "class", "classes": kept, "other": folded, "shares": _shares(counts)},
        )
    values = answered.values
    if values is None or values.shape[1] != 1:
        return None
    column = values[:, 0]
    edges = _edges(column, whole=False)
    return {"kind": "number", "edges": edges, "shares": _shares(_counts(column, edges))}
