"""The handler's metric records, found in whatever a log export looks like.

Accepted, line by line or as one JSON document:

- the lines the function wrote: EMF (``emf``), ``{"metrics": {...}}`` (``log``, and Azure's trace
  message), Cloud Logging entries (``gcp``), one JSON value per line;
- CloudWatch Logs exports, where each line sits as a string in a ``message`` field:
  ``aws logs filter-log-events`` (``{"events": [{"message": ...}]}``), ``get-log-events``,
  Logs Insights results (``@message``, or ``[{"field": "@message", "value": ...}]`` rows), and
  Lambda's JSON log format;
- ``gcloud logging read --format=json`` (``jsonPayload.metrics``, the version in ``labels``).

Lines that are not JSON (Lambda's START/END/REPORT lines, say) are skipped and counted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slpack_handler.contract import DRIFT_PROPERTY

_NESTED = ("message", "@message", "Message", "jsonPayload", "metrics", "events", "results", "value")
_LABELS = ("labels", "logging.googleapis.com/labels")
_MAX_DEPTH = 8


@dataclass
class Found:
    """One metric record with a sketch, and the model version that wrote it (None: not said)."""

    sketch: str
    version: str | None


@dataclass
class Scan:
    records: list[Found]
    lines: int  # lines (or documents) read
    unreadable: int  # lines that were not JSON


def scan(text: str) -> Scan:
    """Every record with a sketch in ``text``: one JSON document, or JSON lines."""
    try:
        document = json.loads(text)
    except ValueError:
        pass
    else:
        return Scan(list(_walk(document, None, 0)), 1, 0)
    found: list[Found] = []
    lines = unreadable = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        lines += 1
        start = line.find("{")  # a line may carry a prefix (a timestamp, a request id)
        try:
            value = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            value = None
        if value is None:
            unreadable += 1
            continue
        found.extend(_walk(value, None, 0))
    return Scan(found, lines, unreadable)


def _walk(value: Any, version: str | None, depth: int) -> Iterator[Found]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and set(v) == {"field", "value"} for v in value):
            value = {v["field"]: v["value"] for v in value}  # a Logs Insights result row
        else:
            for item in value:
                yield from _walk(item, version, depth + 1)
            return
    if isinstance(value, str):
        if value.lstrip().startswith("{"):
            with contextlib.suppress(ValueError):
                yield from _walk(json.loads(value), version, depth + 1)
        return
    if not isinstance(value, dict):
        return
    version = _version(value) or version
    sketch = value.get(DRIFT_PROPERTY)
    if isinstance(sketch, str):
        yield Found(sketch, version)
        return
    for key in _NESTED:
        if key in value:
            yield from _walk(value[key], version, depth + 1)


def _version(entry: dict[str, Any]) -> str | None:
    """The ``ModelVersion`` dimension: in the record itself, or in a Cloud Logging entry's
    labels."""
    for source in (entry, *(entry.get(k) for k in _LABELS)):
        if isinstance(source, dict) and source.get("ModelVersion") is not None:
            return str(source["ModelVersion"])
    return None
