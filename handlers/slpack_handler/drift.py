"""Drift sketches: each answered request counted into the bins of the manifest's baseline.

``slpack build`` fixes every bin (quantile edges of numbers and text lengths, the model's own
categories, false/true, a bin for missing values) and the share of the baseline rows in each
(docs/drift.md). Here the bins are compiled once at load: per feature a function that finds a
value's bin (a bisect over a tuple of edges, a dict lookup) and, for the common single-row
request, the finished text of every possible answer. Per request the work is one call per value
(a batch: one sort and a bisect per edge for numbers, one ``Counter`` for categories), and the
result goes into the metric record the handler writes anyway:

- ``drift`` (a property): the counts of every bin, per feature in ``input.features`` order and
  then the predictions', in the dense layout :data:`~slpack_handler.contract.DRIFT_PROPERTY`
  describes, so the line never grows a key per bin and costs no custom metric;
- ``PredictionBin<i>`` (metrics of the serving dimension set, only the bins that were hit): what
  the prediction drift alarm reads with metric math.

Comparing the counts with the baseline (the population stability index) happens where the logs
are: the dashboard's Logs Insights widgets, the alarm, ``slpack drift``. Standard library only.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable
from typing import Any

from slpack_handler.contract import DRIFT_PROPERTY, PREDICTION_BIN

Index = Callable[[Any], int]  # a value -> its bin
Count = Callable[[list[Any]], list[int]]  # a column -> the count of every bin


class Bins:
    """The bins of one feature (or of the predictions): where a value goes, how a column counts."""

    __slots__ = ("count", "index", "size", "tokens")

    def __init__(self, index: Index, count: Count, size: int) -> None:
        self.index = index
        self.count = count
        self.size = size
        # What a single value writes, per bin: "0,1,0" for the second of three.
        self.tokens = tuple(
            ",".join("1" if j == i else "0" for j in range(size)) for i in range(size)
        )

    def token(self, values: list[Any]) -> str:
        if len(values) == 1:
            return self.tokens[self.index(values[0])]
        return ",".join(map(str, self.count(values)))


def _cuts(edges: tuple[float, ...], present: list[Any], rows: int, missing: bool) -> list[int]:
    """Counts per bin of ``present`` (numbers), sorted once and cut at every edge (C speed)."""
    ordered = sorted(present)
    below = [bisect_left(ordered, edge) for edge in edges]  # values < edge
    counts = [below[0]] if below else []
    counts += [b - a for a, b in zip(below, below[1:])]
    counts.append(len(ordered) - (below[-1] if below else 0))
    if missing:
        counts.append(rows - len(ordered))
    return counts


def number_bins(edges: list[float], missing: bool) -> Bins:
    """Value bin ``i`` holds ``edges[i-1] <= x < edges[i]``; then a bin for ``None``."""
    cut = tuple(edges)
    gap = len(cut) + 1  # the missing bin's index

    def index(v: Any) -> int:
        return gap if v is None else bisect_right(cut, v)

    def count(values: list[Any]) -> list[int]:
        present = [v for v in values if v is not None] if missing else values
        return _cuts(cut, present, len(values), missing)

    return Bins(index, count, gap + missing)


def length_bins(edges: list[float], missing: bool) -> Bins:
    """Free text: bins of its length in characters (the baseline holds no text of the sample)."""
    cut = tuple(edges)
    gap = len(cut) + 1

    def index(v: Any) -> int:
        return gap if v is None else bisect_right(cut, len(v))

    def count(values: list[Any]) -> list[int]:
        present = [len(v) for v in values if v is not None]
        return _cuts(cut, present, len(values), missing)

    return Bins(index, count, gap + missing)


def category_bins(categories: list[Any], missing: bool, other: bool = True) -> Bins:
    """One bin per category, then "other" (any other value), then missing."""
    lookup = {c: i for i, c in enumerate(categories)}
    rest = len(categories) if other else len(categories) - 1  # no "other": the last category
    gap = rest + 1

    def index(v: Any) -> int:
        return gap if v is None else lookup.get(v, rest)

    def count(values: list[Any]) -> list[int]:
        counts = [0] * (gap + missing)
        for value, n in Counter(values).items():
            counts[index(value)] += n
        return counts

    return Bins(index, count, gap + missing)


def boolean_bins(missing: bool) -> Bins:
    """false, true, then missing."""

    def index(v: Any) -> int:
        return 2 if v is None else (1 if v else 0)

    def count(values: list[Any]) -> list[int]:
        absent = values.count(None) if missing else 0
        true = values.count(True)  # validated: booleans and None only
        return [len(values) - true - absent, true] + ([absent] if missing else [])

    return Bins(index, count, 2 + missing)


def feature_bins(entry: dict[str, Any]) -> Bins:
    """The bins a feature's baseline entry describes."""
    kind, missing = entry["kind"], bool(entry.get("missing"))
    if kind == "number":
        return number_bins(entry["edges"], missing)
    if kind == "length":
        return length_bins(entry["edges"], missing)
    if kind == "category":
        return category_bins(entry["categories"], missing)
    if kind == "boolean":
        return boolean_bins(missing)
    raise ValueError(f"unknown bin kind {kind!r}")


def prediction_bins(entry: dict[str, Any]) -> Bins:
    if entry["kind"] == "class":
        return category_bins(entry["classes"], False, other=bool(entry.get("other")))
    return number_bins(entry["edges"], False)


# The response field a prediction's bin is read from, by the baseline's prediction kind.
_ANSWER = {"class": "label", "number": "value"}


class Sketch:
    """A manifest's baseline, compiled: :meth:`add` puts one request's counts in its record."""

    __slots__ = ("answer", "features", "metric_names", "prediction")

    def __init__(self, baseline: dict[str, Any]) -> None:
        self.features = [feature_bins(entry) for entry in baseline["features"]]
        predicted = baseline.get("prediction")
        self.prediction = prediction_bins(predicted) if predicted else None
        self.answer = _ANSWER[predicted["kind"]] if predicted else ""
        size = self.prediction.size if self.prediction else 0
        self.metric_names = tuple(f"{PREDICTION_BIN}{i}" for i in range(size))

    def add(self, columns: list[list[Any]], predictions: list[dict[str, Any]], record: Any) -> None:
        """Count one request: ``columns`` as validated, ``predictions`` as answered."""
        tokens = [bins.token(values) for bins, values in zip(self.features, columns)]
        bins = self.prediction
        if bins is not None:
            answer = self.answer
            if len(predictions) == 1:
                i = bins.index(predictions[0][answer])
                tokens.append(bins.tokens[i])
                record.serving[self.metric_names[i]] = 1
            else:
                counts = bins.count([p[answer] for p in predictions])
                tokens.append(",".join(map(str, counts)))
                for name, n in zip(self.metric_names, counts):
                    if n:
                        record.serving[name] = n
        record.properties[DRIFT_PROPERTY] = " ".join(tokens)


def open_sketch(manifest: dict[str, Any]) -> Sketch | None:
    """The manifest's baseline compiled, or None when the bundle has none (an older build)."""
    baseline = manifest.get("baseline")
    if not baseline or len(baseline.get("features") or ()) != len(manifest["input"]["features"]):
        return None
    return Sketch(baseline)
