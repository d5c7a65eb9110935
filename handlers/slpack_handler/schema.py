"""Requests -> validated columns, against the manifest's input schema. Standard library only.

Everything that depends only on the manifest (field order, types, category sets, training
ranges, which check each field gets) is compiled once at load into :class:`Schema`; per request
the work is one pass over the values of each column, by a checker chosen for the column's type.
The runtime turns the validated columns into its own inputs (numpy arrays for onnxruntime, plain
lists for the Python runtime); a runtime may also offer a bulk check for long number columns.

Every problem is reported, by row and field, in one 400: a caller fixes a request in one round.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from slpack_handler.errors import RequestError, detail

ABSENT = object()  # a field the request did not send (distinct from null)
UNREAD = object()  # a value of a row that was malformed as a whole (already reported for the row)
FLOAT32_MAX = 3.4028234663852886e38  # float(np.finfo(np.float32).max), without numpy
FLOAT64_MAX = sys.float_info.max
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# From this many rows a runtime's bulk check (if it has one) takes number columns; below, the
# per-value check is faster than numpy's fixed cost per call (measured: docs/handler.md).
BULK_ROWS = 32
_INFINITIES = (math.inf, -math.inf)
_TYPE_NAMES = {
    "number": "number",
    "integer": "whole number",
    "boolean": "true or false",
    "string": "string",
}

Problems = list[dict[str, Any]]


class Parsed:
    """A validated request: columns of Python values plus drift counts."""

    __slots__ = ("arrays", "columns", "missing", "out_of_range", "rows", "unknown")

    def __init__(self, rows: int, columns: list[list[Any]]) -> None:
        self.rows = rows
        self.columns = columns
        self.arrays: dict[int, Any] = {}  # columns a bulk check converted, by index (runtime's)
        self.missing = 0
        self.unknown = 0
        self.out_of_range = 0

    def key(self) -> tuple[tuple[Any, ...], ...]:
        """The canonical input, hashable: the response cache's key."""
        return tuple(tuple(col) for col in self.columns)


# A bulk check validates a whole column at once: True when it accepted the column (and recorded
# its drift counts and perhaps an array in ``parsed.arrays[index]``), False to check per value.
BulkCheck = Callable[["Feature", list[Any], Parsed, int], bool]


class Feature:
    """One request field, compiled from its manifest entry."""

    __slots__ = (
        "categories",
        "check",
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
        self.max_abs = FLOAT32_MAX if self.dtype == "float32" else FLOAT64_MAX  # number fields
        self.nullable: bool = bool(spec.get("nullable"))
        cats = spec.get("categories") if spec.get("role") == "categorical" else None
        self.categories: frozenset[Any] | None = None if cats is None else frozenset(cats)
        self.reject_unknown = self.categories is not None and spec.get("unknown") == "reject"
        stats = stats or {}
        self.low: float | None = stats.get("min")
        self.high: float | None = stats.get("max")
        self.known: frozenset[Any] | None = self.categories
        self.check = _CHECKS[self.type]

    def describe(self) -> dict[str, Any]:
        """The field as the metadata endpoint shows it."""
        item: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.categories is not None:
            item["categories"] = sorted(self.categories, key=str)
            item["unknown_categories"] = "reject" if self.reject_unknown else "accept"
        return item


class Schema:
    def __init__(
        self,
        manifest: dict[str, Any],
        max_batch: int,
        max_string_length: int,
        bulk: BulkCheck | None = None,
    ) -> None:
        spec = manifest["input"]
        stats = manifest.get("stats") or {}
        self.layout: str = spec["layout"]
        self.features = [Feature(f, stats.get(f["name"])) for f in spec["features"]]
        self.names = [f.name for f in self.features]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.ignored = frozenset(spec.get("ignored") or ()) - self.index.keys()
        self.width = len(self.features)
        self.max_batch = max_batch
        self.max_string_length = max_string_length
        self.bulk = bulk
        self._example = manifest.get("example") or {}

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
            top = "instances"
            columns, rows, problems = self._from_instances(body["instances"])
        elif "inputs" in body:
            top = "inputs"
            columns, rows, problems = self._from_inputs(body["inputs"])
        else:
            raise RequestError(
                400,
                "invalid_request",
                'the body must have "instances" (a list of rows) or "inputs" (columns)',
            )
        extra = [k for k in body if k not in (top, "parameters")]
        if extra:
            message = f"unknown top-level field {extra[0]!r}"
            problems.insert(0, detail(None, extra[0], "unknown_field", message))
        parsed = Parsed(rows, columns)
        # Values are checked even when some rows were malformed: every problem goes in one 400.
        bulk = self.bulk if rows >= BULK_ROWS else None
        for i, (feature, values) in enumerate(zip(self.features, columns)):
            if not (bulk and feature.type == "number" and bulk(feature, values, parsed, i)):
                feature.check(self, feature, values, parsed, problems)
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

    def _from_instances(self, instances: Any) -> tuple[list[list[Any]], int, Problems]:
        if not isinstance(instances, list):
            raise RequestError(400, "invalid_request", '"instances" must be a list of rows')
        self._check_batch(len(instances))
        width, names, index = self.width, self.names, self.index
        # Well-formed batches are transposed at C speed; one row is as fast the general way.
        if len(instances) > 1:
            if self.layout == "tensor" and all(
                type(inst) is list and len(inst) == width for inst in instances
            ):
                return [list(col) for col in zip(*instances)], len(instances), []
            if all(
                type(inst) is dict and len(inst) == width and index.keys() >= inst.keys()
                for inst in instances
            ):
                return [[inst[name] for inst in instances] for name in names], len(instances), []
        problems: Problems = []
        columns: list[list[Any]] = [[] for _ in names]
        for row, inst in enumerate(instances):
            if type(inst) is dict:
                self._row_from_object(row, inst, columns, problems)
            elif type(inst) is list and self.layout == "tensor":
                self._row_from_list(row, inst, columns, problems)
            else:
                what = "an object (field -> value)"
                if self.layout == "tensor":
                    what += " or a list of numbers"
                problems.append(detail(row, None, "wrong_type", f"each instance must be {what}"))
                for col in columns:
                    col.append(UNREAD)
        return columns, len(instances), problems

    def _row_from_object(
        self, row: int, inst: dict[str, Any], columns: list[list[Any]], problems: Problems
    ) -> None:
        index, ignored = self.index, self.ignored
        if len(inst) != self.width or not index.keys() >= inst.keys():
            problems += [
                detail(row, k, "unknown_field", f"unknown field {k!r}")
                for k in inst
                if k not in index and k not in ignored
            ]
        for col, name in zip(columns, self.names):
            col.append(inst.get(name, ABSENT))

    def _row_from_list(
        self, row: int, inst: list[Any], columns: list[list[Any]], problems: Problems
    ) -> None:
        width = self.width
        if len(inst) != width:
            shown = ", ".join(self.names[:8]) + ("..." if width > 8 else "")
            message = f"a row has {len(inst)} values; the model takes {width} ({shown})"
            problems.append(detail(row, None, "wrong_length", message))
            inst = (inst + [UNREAD] * width)[:width]
        for col, value in zip(columns, inst):
            col.append(value)

    def _from_inputs(self, inputs: Any) -> tuple[list[list[Any]], int, Problems]:
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
            if k not in self.index and k not in self.ignored
        ]
        read = {k: v for k, v in inputs.items() if k in self.index}
        lengths = {len(v) for v in read.values() if isinstance(v, list)}
        problems += [
            detail(None, k, "wrong_type", f"inputs[{k!r}] must be a list of values")
            for k, v in read.items()
            if not isinstance(v, list)
        ]
        if len(lengths) > 1:
            shown = ", ".join(map(str, sorted(lengths)))
            message = f"the columns have different lengths ({shown})"
            problems.append(detail(None, None, "ragged_columns", message))
        rows = max(lengths) if lengths else 0
        if not problems:
            self._check_batch(rows)
        columns = []
        for name in self.names:
            values = read.get(name, ABSENT)
            if values is ABSENT:
                message = f"field {name!r} is missing; send null for a missing value"
                problems.append(detail(None, name, "missing_field", message))
                values = [None] * rows
            elif not isinstance(values, list):
                values = [None] * rows
            columns.append(values)
        if problems:
            raise RequestError(400, "validation_failed", _summary(problems), problems)
        return columns, rows, []

    # -- rows for warm-up --------------------------------------------------------------------

    def example(self) -> Parsed:
        """One plausible row: the manifest's example (build time aggregates), else a made-up one."""
        row = []
        for f in self.features:
            value = self._example.get(f.name, ABSENT)
            if value is ABSENT or (value is None and not f.nullable):
                value = _made_up(f)
            row.append(value)
        return Parsed(1, [[v] for v in row])

    def describe(self) -> list[dict[str, Any]]:
        """The schema as the metadata endpoint shows it."""
        return [f.describe() for f in self.features]


# -- per-type value checks (one loop per column, chosen once per feature) ------------------------


def _check_number(
    schema: Schema, f: Feature, values: list[Any], parsed: Parsed, problems: Problems
) -> None:
    low, high, max_abs = f.low, f.high, f.max_abs
    for row, v in enumerate(values):
        t = type(v)
        if t is float:
            if v != v or v in _INFINITIES:
                problems.append(
                    detail(row, f.name, "not_finite", f"{f.name} must be a finite number")
                )
            elif abs(v) > max_abs:
                problems.append(_too_large(row, f))
            elif low is not None and (v < low or v > high):
                parsed.out_of_range += 1
        elif t is int:
            if abs(v) > max_abs:
                problems.append(_too_large(row, f))
            elif low is not None and (v < low or v > high):
                parsed.out_of_range += 1
        else:
            _not_of_type(f, row, v, parsed, problems)


def _check_string(
    schema: Schema, f: Feature, values: list[Any], parsed: Parsed, problems: Problems
) -> None:
    limit, known = schema.max_string_length, f.known
    for row, v in enumerate(values):
        if type(v) is not str:
            _not_of_type(f, row, v, parsed, problems)
        elif len(v) > limit:
            message = f"{f.name} is longer than {limit} characters"
            problems.append(detail(row, f.name, "too_long", message))
        elif not v.isascii() and not _encodable(v):
            message = f"{f.name} holds characters that are not valid Unicode (a lone surrogate)"
            problems.append(detail(row, f.name, "invalid_string", message))
        elif known is not None and v not in known:
            if f.reject_unknown:
                problems.append(_unknown_category(row, f, _short(v)))
            else:
                parsed.unknown += 1


def _check_integer(
    schema: Schema, f: Feature, values: list[Any], parsed: Parsed, problems: Problems
) -> None:
    low, high, categories = f.low, f.high, f.categories
    for row, v in enumerate(values):
        t = type(v)
        if not (t is int or (t is float and v.is_integer())):
            _not_of_type(f, row, v, parsed, problems)
        elif not INT64_MIN <= v <= INT64_MAX:
            message = f"{f.name} does not fit a 64-bit integer"
            problems.append(detail(row, f.name, "out_of_range", message))
        elif categories is not None and v not in categories:
            if f.reject_unknown:
                problems.append(_unknown_category(row, f, str(v)))
            else:
                parsed.unknown += 1
        elif low is not None and (v < low or v > high):
            parsed.out_of_range += 1


def _check_boolean(
    schema: Schema, f: Feature, values: list[Any], parsed: Parsed, problems: Problems
) -> None:
    for row, v in enumerate(values):
        if type(v) is not bool:
            _not_of_type(f, row, v, parsed, problems)


_CHECKS = {
    "number": _check_number,
    "string": _check_string,
    "integer": _check_integer,
    "boolean": _check_boolean,
}


def _not_of_type(f: Feature, row: int, v: Any, parsed: Parsed, problems: Problems) -> None:
    """A value that is not of the field's type: null, absent, part of a malformed row, or wrong."""
    if v is None:
        if f.nullable:
            parsed.missing += 1
        else:
            message = f"{f.name} cannot be missing for this model; send a {_TYPE_NAMES[f.type]}"
            problems.append(detail(row, f.name, "null_not_allowed", message))
    elif v is ABSENT:
        message = f"field {f.name!r} is missing; send null for a missing value"
        problems.append(detail(row, f.name, "missing_field", message))
    elif v is not UNREAD:
        message = f"{f.name} must be a {_TYPE_NAMES[f.type]}, not {_json_type(v)}"
        problems.append(detail(row, f.name, "wrong_type", message))


def _encodable(v: str) -> bool:
    """Whether ``v`` is valid Unicode text (JSON's \\ud800 escapes give lone surrogates)."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_large(row: int, f: Feature) -> dict[str, Any]:
    return detail(
        row, f.name, "out_of_range", f"{f.name} is too large for a {f.dtype[-2:]}-bit float"
    )


def _unknown_category(row: int, f: Feature, shown: str) -> dict[str, Any]:
    message = f"{f.name}={shown} is not a known category; use one of {_choices(f.categories)}"
    return detail(row, f.name, "unknown_category", message)


def _made_up(f: Feature) -> Any:
    if f.categories:
        return min(f.categories, key=str)
    if f.type == "string":
        return "warm up"
    if f.type == "boolean":
        return False
    return f.low if f.low is not None else 0


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
    return ascii(v if len(v) <= limit else v[:limit] + "...")


def _choices(cats: frozenset[Any] | None) -> str:
    values = sorted(cats or (), key=str)
    shown = ", ".join(map(repr, values[:10]))
    return shown + (f" (and {len(values) - 10} more)" if len(values) > 10 else "")


def _summary(problems: Problems) -> str:
    first = problems[0]["message"]
    more = len(problems) - 1
    if not more:
        return str(first)
    return f"{first} (and {more} more problem{'s' if more > 1 else ''}, listed in details)"
