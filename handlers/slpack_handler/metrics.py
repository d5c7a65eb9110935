"""Metrics: one CloudWatch Embedded Metric Format line per invocation, plus user hooks.

EMF
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
is a JSON log line whose ``_aws`` member declares which top-level members are metrics; CloudWatch
Logs extracts them asynchronously, so emitting costs one ``write`` and no API call. The record is
built once per invocation and handed to the sink and to every hook.

The other sinks carry the same record in each platform's own structured-logging format:
``log`` (one plain JSON line), ``gcp`` (a Cloud Logging structured entry: severity, message and
the dimensions as labels; https://cloud.google.com/logging/docs/structured-logging) and ``azure``
(a ``logging`` record the Functions Python worker forwards to Application Insights as a trace of
the invocation; see :func:`azure_message`). Nothing beyond the chosen sink is imported.

Hooks (``SLPACK_METRIC_HOOKS=module:function,...``) receive the same record. Each runs on its own
worker thread; the request waits at most ``SLPACK_HOOK_TIMEOUT_MS`` for it, and a hook that raises
or is still busy is reported once in the log and never fails the request.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from slpack_handler.contract import DIMENSION_SETS, METRICS, SERVING_DIMENSIONS
from slpack_handler.logger import Logger

_DIMENSION_SETS = [list(names) for names in DIMENSION_SETS]


class MetricRecord:
    """The metrics and properties of one invocation.

    ``values`` are published under every dimension set; ``serving`` (the prediction bins of the
    drift sketch) under the serving set only: the alarm that reads them watches the alias, and a
    copy per model version would double their cost for nothing.
    """

    __slots__ = ("properties", "serving", "values")

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.serving: dict[str, float] = {}
        self.properties: dict[str, Any] = {}

    def add(self, name: str, value: float) -> None:
        self.values[name] = value

    def as_dict(self, dimensions: dict[str, str]) -> dict[str, Any]:
        """A plain dict: dimensions, metric values and properties (what hooks receive)."""
        return {**dimensions, **self.values, **self.serving, **self.properties}


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
_DIRECTIVES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}


def _directive(namespace: str, names: tuple[str, ...], serving: tuple[str, ...] = ()) -> str:
    """The ``CloudWatchMetrics`` array for a set of metric names, serialized once per set.

    A container sees only a few sets (prediction, validation error, load failure, times the
    prediction bins a single row can hit), so per request the line costs one encode of the values
    instead of rebuilding the declaration. ``serving`` names get a second directive, published
    under the serving dimension set only.
    """
    key = (namespace, names, serving)
    text = _DIRECTIVES.get(key)
    if text is None:
        directives = [
            {
                "Namespace": namespace,
                "Dimensions": _DIMENSION_SETS,
                "Metrics": [{"Name": name, "Unit": METRICS.get(name, "None")} for name in names],
            }
        ]
        if serving:
            directives.append(
                {
                    "Namespace": namespace,
                    "Dimensions": [list(SERVING_DIMENSIONS)],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in serving],
                }
            )
        text = _ENCODER.encode(directives)
        _DIRECTIVES[key] = text
    return text


def emf_line(
    record: MetricRecord, namespace: str, dimensions: dict[str, str], timestamp_ms: int
) -> str:
    """Serialize a record as one EMF log line: ``_aws`` metadata, then dimensions, values,
    properties."""
    members = {**dimensions, **record.values, **record.serving, **record.properties}
    directive = _directive(namespace, tuple(record.values), tuple(record.serving))
    head = f'{{"_aws":{{"Timestamp":{timestamp_ms:d},"CloudWatchMetrics":{directive}}}'
    rest = _ENCODER.encode(members)
    return head + ("," + rest[1:] if members else "}")


def log_line(record: MetricRecord, dimensions: dict[str, str]) -> str:
    """The record as one plain JSON object under ``metrics`` (the ``log`` sink; Azure's message)."""
    return _ENCODER.encode({"metrics": record.as_dict(dimensions)})


# Cloud Logging moves these special fields out of jsonPayload into the entry; labels must be
# strings.
_GCP_HEAD = '{"severity":"INFO","message":"slpack metrics","logging.googleapis.com/labels":'


def gcp_line(record: MetricRecord, dimensions: dict[str, str]) -> str:
    """One Cloud Logging structured entry: the dimensions as entry labels (indexed, and what
    log-based metrics group by), values and properties as ``jsonPayload.metrics``."""
    labels = _ENCODER.encode({k: str(v) for k, v in dimensions.items()})
    return (
        _GCP_HEAD
        + labels
        + ',"metrics":'
        + _ENCODER.encode({**record.values, **record.serving, **record.properties})
        + "}"
    )


def azure_message(record: MetricRecord, dimensions: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The ``logging`` message and ``extra`` fields of one record, for Application Insights.

    The Functions Python worker forwards a record's message only (customDimensions get the host's
    Category, InvocationId and LogLevel, never ``extra``), so the message is the JSON of the
    ``log`` sink, read back with ``parse_json(message)``. The same fields also go in ``extra``:
    an app exporting logs through the Azure Monitor OpenTelemetry distro gets them as
    customDimensions.
    """
    plain = record.as_dict(dimensions)
    return _ENCODER.encode({"metrics": plain}), plain


def resource_of(invoked_arn: str | None, function_name: str) -> str:
    """The ``Resource`` dimension of an invocation: ``FUNCTION:QUALIFIER``, as Lambda names it.

    The qualifier (an alias such as ``live``, or a version number) follows the seventh colon of
    the invoked ARN (``arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER``); an unqualified
    ARN gives the bare name. Without an ARN (not on Lambda, or no context) the version the
    runtime says it runs stands in, and elsewhere the function's name.
    """
    parts = invoked_arn.split(":") if invoked_arn else ()
    if len(parts) > 7 and parts[7]:
        return f"{parts[6]}:{parts[7]}"
    if len(parts) > 6:
        return parts[6]
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    return f"{function_name}:{version}" if version else function_name


Hook = Callable[[dict[str, Any]], Any]


class _HookRunner:
    """One hook on its own daemon thread, so a slow hook cannot hold the request."""

    def __init__(self, name: str, fn: Hook, logger: Logger) -> None:
        import queue  # only hooks need these: no import cost when none is configured
        import threading

        self.name, self.fn, self.logger = name, fn, logger
        self._full, self._event = queue.Full, threading.Event
        self._inbox: queue.Queue[tuple[dict[str, Any], Any]] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name=f"slpack-hook-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            record, done = self._inbox.get()
            try:
                self.fn(record)
            except Exception as exc:  # a user hook may raise anything
                self.logger.once(
                    f"hook-raised:{self.name}",
                    "WARNING",
                    f"metric hook {self.name} raised {type(exc).__name__}: {exc}; its "
                    "records are skipped",
                )
            finally:
                done.set()

    def submit(self, record: dict[str, Any], timeout_s: float) -> None:
        done = self._event()
        try:
            self._inbox.put_nowait((record, done))
        except self._full:
            self.logger.once(
                f"hook-busy:{self.name}",
                "WARNING",
                f"metric hook {self.name} is still busy with an earlier record; records are "
                "dropped while it is",
            )
            return
        if not done.wait(timeout_s):
            self.logger.once(
                f"hook-slow:{self.name}",
                "WARNING",
                f"metric hook {self.name} took longer than {timeout_s * 1000:.0f} ms; the "
                "request did not wait for it",
            )


def load_hooks(specs: tuple[str, ...], logger: Logger) -> list[_HookRunner]:
    runners = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr or "hook")
            if not callable(fn):
                raise TypeError(f"{spec} is not callable")
        except Exception as exc:
            logger.once(
                f"hook-load:{spec}",
                "ERROR",
                f"metric hook {spec} could not be loaded ({type(exc).__name__}: {exc}); "
                "it is skipped",
            )
            continue
        runners.append(_HookRunner(spec, fn, logger))
    return runners


class Metrics:
    """The configured sink (emf | log | gcp | azure | none) and hooks; zero work when both are
    off."""

    def __init__(
        self,
        mode: str,
        namespace: str,
        hooks: list[_HookRunner],
        hook_timeout_s: float,
        logger: Logger,
    ) -> None:
        self.mode = mode
        self.namespace = namespace
        self.hooks = hooks
        self.hook_timeout_s = hook_timeout_s
        self.logger = logger
        self.enabled = mode != "none" or bool(hooks)
        if mode == "azure":
            import logging  # the Azure worker has it loaded already; no other sink pays for it

            self._azure = logging.getLogger("slpack.metrics")
            self._azure.setLevel(logging.INFO)  # the worker forwards INFO and above to the host

    def emit(self, record: MetricRecord, dimensions: dict[str, str]) -> None:
        if self.mode == "emf":
            self._write(emf_line(record, self.namespace, dimensions, int(time.time() * 1000)))
        elif self.mode == "gcp":
            self._write(gcp_line(record, dimensions))
        elif self.mode == "log":
            self._write(log_line(record, dimensions))
        elif self.mode == "azure":
            message, extra = azure_message(record, dimensions)
            self._azure.info(message, extra=extra)
        if self.hooks:
            plain = record.as_dict(dimensions)
            for hook in self.hooks:
                hook.submit(dict(plain), self.hook_timeout_s)

    def _write(self, line: str) -> None:
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
