"""Requests -> validated, typed onnxruntime feeds, against the manifest's input schema.

Everything that depends only on the manifest (field order, dtypes, category sets, training ranges)
is compiled once at load into :class:`Schema`; per request the work is one pass over the values
that checks each one's type and builds the columns, then one numpy conversion per column.

Every problem is reported, by row and field, in one 400: a caller fixes a request in one round.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from slpack_handler.errors import RequestError, detail

ABSENT = object()  # a field the request did not send (distinct from null)
UNREAD = object()  # a value of a row that was malformed as a whole (already reported for the row)
MISSING_STRING = (
    ""  # how a missing string is fed to ONNX (matches the build, see slpack.bundler.schema)
)
FLOAT32_MAX = (
    3.4028234663852886e38  # float(np.finfo(np.float32).max), without finfo's first-call cost
)
FLOAT64_MAX = sys.float_info.max
_PLAIN_NUMBERS = frozenset((int, float))
# From this many rows a number column is checked with numpy in bulk; below, numpy's fixed cost per
# call (a few microseconds) is more than checking the values one by one (measured: docs/handler.md).
BULK_ROWS = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NUMPY = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


class Feature:
    """One request field, compiled from its manifest entry."""

    __slots__ = (
        "categories",
        "dtype",
        "high",
        "known",
        "low",
        "max_abs",
        "name",
        "nullable",
        "onnx_name",
        "reject_unknown",
        "type",
    )

    def __init__(self, spec: dict[str, Any], stats: dict[str, Any] | None) -> None:
        self.name: str = spec["name"]
        self.onnx_name: str = spec.get("onnx_name") or spec["name"]
        self.type: str = spec["type"]
        self.dtype: str = spec["dtype"]
        self.max_abs = FLOAT32_MAX if self.dtype == "float32" else FLOAT64_MAX  # for number fields
        self.nullable: bool = bool(spec.get("nullable"))
        cats = spec.get("categories")
        self.categories: frozenset[Any] | None = (
            frozenset(cats) if cats is not None and spec.get("role") == "categorical" else None
        )
        self.reject_unknown = self.categories is not None and spec.get("unknown") == "reject"
        stats = stats or {}
        self.low: float | None = stats.get("min")
        self.high: float | None = stats.get("max")
        known = stats.get("categories")
        self.known: frozenset[Any] | None = self.categories or (frozenset(known) if known else None)


class Parsed:
    """A validated request: columns of Python values plus drift counts."""

    __slots__ = ("arrays", "columns", "missing", "out_of_range", "rows", "unknown")

    def __init__(self, rows: int, columns: list[list[Any]]) -> None:
        self.rows = rows
        self.columns = columns
        # float64 arrays of the number columns checked in bulk, by column index, reused by feeds
        self.arrays: dict[int, np.ndarray] = {}
        self.missing = 0
        self.unknown = 0
        self.out_of_range = 0

    def key(self) -> tuple[tuple[Any, ...], ...]:
        """The canonical input, hashable: the response cache's key."""
        return tuple(tuple(col) for col in self.columns)


class Schema:
    def __init__(self, manifest: dict[str, Any], max_batch: int, max_string_length: int) -> None:
        spec = manifest["input"]
        stats = manifest.get("stats") or {}
        self.layout: str = spec["layout"]
        self.features = [Feature(f, stats.get(f["name"])) for f in spec["features"]]
        self.names = [f.name for f in self.features]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.width = len(self.features)
        tensor = spec.get("tensor") or {}
        self.tensor_name: str = tensor.get("name", "X")
        self.tensor_dtype = _NUMPY[tensor.get("dtype", "float32")]
        self.max_batch = max_batch
        self.max_string_length = max_string_length

    # -- request body -> rows ----------------------------------------------------------------

    def parse(self, body: Any) -> Parsed:
        """Validate a request body; raise RequestError naming every problem."""
        if not isinstance(body, dict):
            raise RequestError(
                400,
                "invalid_request",
                'the body must be a JSON object with "instances" or "inputs"',
            )
        if "instances" in body:
            extra = [k for k in body if k not in ("instances", "parameters")]
            columns, rows, problems = self._from_instances(body["instances"])
        elif "inputs" in body:
            extra = [k for k in body if k not in ("inputs", "parameters")]
            columns, rows, problems = self._from_inputs(body["inputs"])
        else:
            raise RequestError(
                400,
                "invalid_request",
                'the body must have "instances" (a list of rows) or "inputs" (columns)',
            )
        if extra:
            problems.insert(
                0, detail(None, extra[0], "unknown_field", f"unknown top-level field {extra[0]!r}")
            )
        parsed = Parsed(rows, columns)
        # Values are checked even when some rows were malformed: every problem goes in one 400.
        bulk = rows >= BULK_ROWS
        for i, (feature, values) in enumerate(zip(self.features, columns)):
            if not (
                bulk
                and feature.type == "number"
                and self._check_numbers(feature, values, parsed, i)
            ):
                self._check_values(feature, values, parsed, problems)
        if problems:
            raise RequestError(400, "validation_failed", _summary(problems), problems)
        return parsed

    def _check_batch(self, rows: int) -> None:
        if rows == 0:
            raise RequestError(
                400, "invalid_request", "the request has no rows; send at least one instance"
            )
        if rows > self.max_batch:
            raise RequestError(
                413,
                "batch_too_large",
                f"the request has {rows} rows; send at most {self.max_batch} per request",
            )

    def _from_instances(self, instances: Any) -> tuple[list[list[Any]], int, list[dict[str, Any]]]:
        if not isinstance(instances, list):
            raise RequestError(400, "invalid_request", '"instances" must be a list of rows')
        self._check_batch(len(instances))
        width, names, index = self.width, self.names, self.index
        if (
            len(instances) > 1
        ):  # well-formed batches are transposed at C speed; one row is as fast below
            if self.layout == "tensor" and all(
                type(inst) is list and len(inst) == width for inst in instances
            ):
                return [list(col) for col in zip(*instances)], len(instances), []
            if all(
                type(inst) is dict and len(inst) == width and index.keys() >= inst.keys()
                for inst in instances
            ):
                return [[inst[name] for inst in instances] for name in names], len(instances), []
        problems: list[dict[str, Any]] = []
        columns: list[list[Any]] = [[] for _ in names]
        for row, inst in enumerate(instances):
            if type(inst) is dict:
                if len(inst) != width or not index.keys() >= inst.keys():
                    problems += [
                        detail(row, k, "unknown_field", f"unknown field {k!r}")
                        for k in inst
                        if k not in index
                    ]
                for col, name in zip(columns, names):
                    col.append(inst.get(name, ABSENT))
            elif type(inst) is list and self.layout == "tensor":
                if len(inst) != self.width:
                    problems.append(
                        detail(
                            row,
                            None,
                            "wrong_length",
                            f"a row has {len(inst)} values; the model takes {self.width} "
                            f"({', '.join(names[:8])}{'...' if self.width > 8 else ''})",
                        )
                    )
                    inst = (inst + [UNREAD] * self.width)[: self.width]
                for col, value in zip(columns, inst):
                    col.append(value)
            else:
                what = (
                    "an object (field -> value)"
                    if self.layout == "columns"
                    else "an object (field -> value) or a list of numbers"
                )
                problems.append(detail(row, None, "wrong_type", f"each instance must be {what}"))
                for col in columns:
                    col.append(UNREAD)
        return columns, len(instances), problems

    def _from_inputs(self, inputs: Any) -> tuple[list[list[Any]], int, list[dict[str, Any]]]:
        if isinstance(inputs, list):
            return self._from_instances(inputs)
        if not isinstance(inputs, dict):
            raise RequestError(
                400,
                "invalid_request",
                '"inputs" must be an object of columns (field -> list of values)',
            )
        problems = [
            detail(None, k, "unknown_field", f"unknown field {k!r}")
            for k in inputs
            if k not in self.index
        ]
        lengths = {len(v) for v in inputs.values() if isinstance(v, list)}
        not_lists = [k for k, v in inputs.items() if not isinstance(v, list) and k in self.index]
        problems += [
            detail(None, k, "wrong_type", f"inputs[{k!r}] must be a list of values")
            for k in not_lists
        ]
        if len(lengths) > 1:
            problems.append(
                detail(
                    None,
                    None,
                    "ragged_columns",
                    f"the columns have different lengths ({', '.join(map(str, sorted(lengths)))})",
                )
            )
        rows = max(lengths) if lengths else 0
        if not problems:
            self._check_batch(rows)
        columns = []
        for name in self.names:
            values = inputs.get(name, ABSENT)
            if values is ABSENT:
                problems.append(
                    detail(
                        None,
                        name,
                        "missing_field",
                        f"field {name!r} is missing; send null for a missing value",
                    )
                )
                values = [None] * rows
            elif not isinstance(values, list):
                values = [None] * rows
            columns.append(values)
        if problems:
            raise RequestError(400, "validation_failed", _summary(problems), problems)
        return columns, rows, []

    # -- value checks ------------------------------------------------------------------------

    def _check_numbers(self, f: Feature, values: list[Any], parsed: Parsed, i: int) -> bool:
        """Check a column of plain numbers in bulk; False sends it to the per-value path.

        The per-value path is exact and names every problem; this one only says yes for a column
        of ints and floats that are all finite and in range for the dtype, which is nearly every
        request, and keeps the float64 array for :meth:`feeds`.
        """
        if not set(map(type, values)) <= _PLAIN_NUMBERS:
            return False  # None, bool, str, ...: typed one by one
        try:
            array = np.array(values, dtype=np.float64)
        except OverflowError:  # an int beyond float64
            return False
        magnitude = np.abs(array)
        if not (magnitude <= f.max_abs).all():  # also False for NaN and infinities
            return False
        if f.low is not None:
            parsed.out_of_range += int(np.count_nonzero((array < f.low) | (array > f.high)))
        parsed.arrays[i] = array
        return True

    def _check_values(
        self, f: Feature, values: list[Any], parsed: Parsed, problems: list[dict[str, Any]]
    ) -> None:
        kind = f.type
        for row, v in enumerate(values):
            t = type(v)
            if kind == "number":
                if t is float:
                    if v != v or v in (math.inf, -math.inf):
                        problems.append(
                            detail(row, f.name, "not_finite", f"{f.name} must be a finite number")
                        )
                    elif abs(v) > f.max_abs:
                        problems.append(
                            detail(
                                row,
                                f.name,
                                "out_of_range",
                                f"{f.name} is too large for a {f.dtype[-2:]}-bit float",
                            )
                        )
                    elif f.low is not None and (v < f.low or v > f.high):  # type: ignore[operator]
                        parsed.out_of_range += 1
                    continue
                if t is int:
                    if abs(v) > f.max_abs:
                        problems.append(
                            detail(
                                row,
                                f.name,
                                "out_of_range",
                                f"{f.name} is too large for a {f.dtype[-2:]}-bit float",
                            )
                        )
                    elif f.low is not None and (v < f.low or v > f.high):  # type: ignore[operator]
                        parsed.out_of_range += 1
                    continue
            elif kind == "string":
                if t is str:
                    if len(v) > self.max_string_length:
                        problems.append(
                            detail(
                                row,
                                f.name,
                                "too_long",
                                f"{f.name} is longer than {self.max_string_length} characters",
                            )
                        )
                    elif f.known is not None and v not in f.known:
                        if f.reject_unknown:
                            problems.append(
                                detail(
                                    row,
                                    f.name,
                                    "unknown_category",
                                    f"{f.name}={_short(v)} is not a known category; use one "
                                    f"of {_choices(f.categories)}",
                                )
                            )
                        else:
                            parsed.unknown += 1
                    continue
            elif kind == "integer":
                if t is int or (t is float and v.is_integer()):
                    if not INT64_MIN <= v <= INT64_MAX:
                        problems.append(
                            detail(
                                row,
                                f.name,
                                "out_of_range",
                                f"{f.name} does not fit a 64-bit integer",
                            )
                        )
                    elif f.reject_unknown and v not in f.categories:  # type: ignore[operator]
                        problems.append(
                            detail(
                                row,
                                f.name,
                                "unknown_category",
                                f"{f.name}={v} is not a known category; use one of "
                                f"{_choices(f.categories)}",
                            )
                        )
                    elif f.low is not None and (v < f.low or v > f.high):  # type: ignore[operator]
                        parsed.out_of_range += 1
                    elif f.categories is not None and v not in f.categories:
                        parsed.unknown += 1
                    continue
            elif kind == "boolean":
                if t is bool:
                    continue
            if v is None:
                if f.nullable:
                    parsed.missing += 1
                else:
                    problems.append(
                        detail(
                            row,
                            f.name,
                            "null_not_allowed",
                            f"{f.name} cannot be missing for this model; send a {_type_name(f)}",
                        )
                    )
            elif v is ABSENT:
                problems.append(
                    detail(
                        row,
                        f.name,
                        "missing_field",
                        f"field {f.name!r} is missing; send null for a missing value",
                    )
                )
            elif v is UNREAD:
                pass
            else:
                problems.append(
                    detail(
                        row,
                        f.name,
                        "wrong_type",
                        f"{f.name} must be a {_type_name(f)}, not {_json_type(v)}",
                    )
                )

    # -- rows -> feeds -----------------------------------------------------------------------

    def feeds(self, parsed: Parsed) -> dict[str, np.ndarray]:
        """C-contiguous arrays of the manifest's dtypes, keyed by ONNX input name."""
        if self.layout == "tensor":
            if len(parsed.arrays) == self.width:
                matrix = np.stack([parsed.arrays[i] for i in range(self.width)], axis=1)
            else:  # None (a nullable missing value) becomes NaN in a float array.
                matrix = np.array(parsed.columns, dtype=np.float64).T
            return {self.tensor_name: np.ascontiguousarray(matrix, dtype=self.tensor_dtype)}
        feeds = {}
        n = parsed.rows
        arrays = parsed.arrays
        for i, (f, values) in enumerate(zip(self.features, parsed.columns)):
            checked = arrays.get(i) if arrays else None
            if checked is not None:
                array = checked if f.dtype == "float64" else checked.astype(_NUMPY[f.dtype])
            elif f.dtype == "string":
                array = np.array([MISSING_STRING if v is None else v for v in values], dtype=object)
            else:
                array = np.array(
                    values, dtype=np.float64 if f.dtype.startswith("float") else _NUMPY[f.dtype]
                )
                if array.dtype != _NUMPY[f.dtype]:
                    array = array.astype(_NUMPY[f.dtype])
            feeds[f.onnx_name] = array.reshape(n, 1)
        return feeds

    def example(self) -> Parsed:
        """One plausible row (for the warm-up run at load)."""
        row = []
        for f in self.features:
            if f.type == "string":
                row.append(min(f.categories) if f.categories else "warm up")
            elif f.type == "boolean":
                row.append(False)
            elif f.categories:
                row.append(min(f.categories))
            else:
                row.append(f.low if f.low is not None else 0)
        return Parsed(1, [[v] for v in row])

    def describe(self) -> list[dict[str, Any]]:
        """The schema as the metadata endpoint shows it."""
        out = []
        for f in self.features:
            item: dict[str, Any] = {"name": f.name, "type": f.type, "nullable": f.nullable}
            if f.categories is not None:
                item["categories"] = sorted(f.categories, key=str)
                item["unknown_categories"] = "reject" if f.reject_unknown else "accept"
            out.append(item)
        return out


def _type_name(f: Feature) -> str:
    return {
        "number": "number",
        "integer": "whole number",
        "boolean": "true or false",
        "string": "string",
    }[f.type]


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _short(v: str, limit: int = 40) -> str:
    return repr(v if len(v) <= limit else v[:limit] + "...")


def _choices(cats: frozenset[Any] | None) -> str:
    values = sorted(cats or (), key=str)
    shown = ", ".join(map(repr, values[:10]))
    return shown + (f" (and {len(values) - 10} more)" if len(values) > 10 else "")


def _summary(problems: list[dict[str, Any]]) -> str:
    first = problems[0]["message"]
    more = len(problems) - 1
    return f"{first}" + (
        f" (and {more} more problem{'s' if more > 1 else ''}, listed in details)" if more else ""
    )
