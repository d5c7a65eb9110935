"""Drift sketches: each answered request counted into the bins of the manifest's baseline.

``slpack build`` fixes every bin (quantile edges of numbers and text lengths, the model's own
categories, false/true, a bin for missing values) and the share of the baseline rows in each
(docs/drift.md). Here the bins are compiled once at load: per feature a function that finds a
value's bin (a bisect over a tuple of edges, a dict lookup) and, for the common single-row
request, the finished text of every possible answer. Per request the work is one C call per value
(a batch: per number column one sort and a bisect per edge, or one numpy ``searchsorted`` when the
onnxruntime runtime already made the column an array; one ``Counter`` per category column), and
the result goes into the metric record the handler writes anyway:

- ``drift`` (a property): the counts of every bin, per feature in ``input.features`` order and
  then the predictions', in the dense layout :data:`~slpack_handler.contract.DRIFT_PROPERTY`
  describes, so the line never grows a key per bin and costs no custom metric;
- ``PredictionBin<i>`` (metrics of the serving dimension set, only the bins that were hit): what
  the prediction drift alarm reads with metric math.

Comparing the counts with the baseline (the population stability index) happens where the logs
are: the dashboard's Logs Insights widgets, the alarm, ``slpack drift``. Standard library only
(numpy is used only on arrays numpy made).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from slpack_handler.contract import DRIFT_PROPERTY, PREDICTION_BIN

Index = Callable[[Any], int]  # a present value -> its bin
Count = Callable[[list[Any]], list[int]]  # a column, None included -> the count of every bin


class Bins:
    """The bins of one feature (or of the predictions): where a value goes, how a column counts.

    ``index`` never sees ``None`` (a missing value goes to the bin ``gap``), so it can be the
    cheapest callable there is: a bisect bound to the edges, a dict's ``__getitem__``, C code
    with no Python frame for a single row.
    """

    __slots__ = ("count", "count_array", "gap", "index", "size", "tokens")

    def __init__(
        self, index: Index, count: Count, size: int, missing: bool, count_array: Any = None
    ) -> None:
        self.index = index
        self.count = count
        self.count_array = count_array  # numbers: a numpy column the runtime already made
        self.size = size
        self.gap = size - 1 if missing else -1  # the missing bin, last (-1: none, never used)
        # What a single value writes, per bin: "0,1,0" for the second of three.
        self.tokens = tuple(
            ",".join("1" if j == i else "0" for j in range(size)) for i in range(size)
        )

    def bin(self, value: Any) -> int:
        return self.gap if value is None else self.index(value)

    def token(self, values: list[Any], array: Any = None) -> str:
        if len(values) == 1:
            return self.tokens[self.bin(values[0])]
        if array is not None and self.count_array is not None:
            return ",".join(map(str, self.count_array(array)))
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

    def count(values: list[Any]) -> list[int]:
        present = [v for v in values if v is not None] if missing else values
        return _cuts(cut, present, len(values), missing)

    def count_array(array: Any) -> list[int]:
        """A column the onnxruntime runtime checked in bulk (plain numbers, none missing)."""
        import numpy  # loaded already: only the onnxruntime runtime makes these arrays

        index = numpy.searchsorted(numpy.asarray(cut, dtype=numpy.float64), array, side="right")
        counts: list[int] = numpy.bincount(index, minlength=len(cut) + 1).tolist()
        return [*counts, 0] if missing else counts

    size = len(cut) + 1 + missing
    return Bins(partial(bisect_right, cut), count, size, missing, count_array)


def length_bins(edges: list[float], missing: bool) -> Bins:
    """Free text: bins of its length in characters (the baseline holds no text of the sample)."""
    cut = tuple(edges)

    def index(v: str) -> int:
        return bisect_right(cut, len(v))

    def count(values: list[Any]) -> list[int]:
        present = [len(v) for v in values if v is not None]
        return _cuts(cut, present, len(values), missing)

    return Bins(index, count, len(cut) + 1 + missing, missing)


class _Lookup(dict[Any, int]):
    """A dict whose absent keys map to one bin: ``__getitem__`` stays C for the known ones."""

    __slots__ = ("rest",)

    def __init__(self, bins: dict[Any, int], rest: int) -> None:
        super().__init__(bins)
        self.rest = rest

    def __missing__(self, key: Any) -> int:
        return self.rest


def category_bins(categories: list[Any], missing: bool, other: bool = True) -> Bins:
    """One bin per category, then "other" (any other value), then missing."""
    rest = len(categories) if other else len(categories) - 1  # no "other": the last category
    size = rest + 1 + missing
    index = _Lookup({c: i for i, c in enumerate(categories)}, rest).__getitem__

    def count(values: list[Any]) -> list[int]:
        counts = [0] * size
        for value, n in Counter(values).items():
            counts[size - 1 if value is None else index(value)] += n
        return counts

    return Bins(index, count, size, missing)


def boolean_bins(missing: bool) -> Bins:
    """false, true, then missing."""

    def count(values: list[Any]) -> list[int]:
        absent = values.count(None) if missing else 0
        true = values.count(True)  # validated: booleans and None only
        return [len(values) - true - absent, true] + ([absent] if missing else [])

    return Bins({False: 0, True: 1}.__getitem__, count, 2 + missing, missing)


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

    __slots__ = ("answer", "features", "metric_names", "prediction", "single")

    def __init__(self, baseline: dict[str, Any]) -> None:
        self.features = [feature_bins(entry) for entry in baseline["features"]]
        # A single row, the common request: one comprehension over (index, missing, tokens).
        self.single = [(bins.index, bins.gap, bins.tokens) for bins in self.features]
        predicted = baseline.get("prediction")
        self.prediction = prediction_bins(predicted) if predicted else None
        self.answer = _ANSWER[predicted["kind"]] if predicted else ""
        size = self.prediction.size if self.prediction else 0
        self.metric_names = tuple(f"{PREDICTION_BIN}{i}" for i in range(size))

    def add(
        self,
        columns: list[list[Any]],
        predictions: list[dict[str, Any]],
        record: Any,
        arrays: dict[int, Any] | None = None,
    ) -> None:
        """Count one request: ``columns`` as validated (``arrays``: the number columns a runtime
        turned into numpy arrays, by index), ``predictions`` as answered."""
        if len(predictions) == 1:
            tokens = [
                token[gap if (v := values[0]) is None else index(v)]
                for (index, gap, token), values in zip(self.single, columns)
            ]
        else:
            arrays = arrays or {}
            tokens = [
                bins.token(values, arrays.get(i))
                for i, (bins, values) in enumerate(zip(self.features, columns))
            ]
        bins = self.prediction
        if bins is not None:
            answer = self.answer
            if len(predictions) == 1:
                i = bins.index(predictions[0][answer])  # an answer is never None
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
    if not baseline:
        return None
    found, expected = len(baseline["features"]), len(manifest["input"]["features"])
    if found != expected:
        raise ValueError(f"the baseline has {found} features and the input {expected}")
    return Sketch(baseline)
