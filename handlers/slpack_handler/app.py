"""The one request core every adapter uses: Lambda events, the edge server, Cloud Run, Azure.

Adapters only translate their request into ``handle_http(method, path, headers, body)`` (or
``handle_direct(payload)``) and the :class:`HttpResponse` back. Everything else lives here once:
routing, body limits, JSON parsing, validation, the response cache, inference, error mapping, and
one metric record per invocation.
"""

from __future__ import annotations

import _thread
import json
import time
from typing import Any, NamedTuple

from slpack_handler.cache import ResponseCache
from slpack_handler.config import Settings
from slpack_handler.errors import ModelUnavailable, RequestError, error_body
from slpack_handler.logger import Logger
from slpack_handler.metrics import MetricRecord, Metrics, load_hooks, resource_of

JSON = "application/json"
_ACCEPTED_TYPES = ("", "application/json", "text/plain", "application/x-www-form-urlencoded")
_METADATA_PATHS = ("/health", "/metadata")


# The functional form on purpose: with postponed annotations the class form compiles a ForwardRef
# per field on every cold start.
HttpResponse = NamedTuple(  # noqa: UP014
    "HttpResponse", [("status", int), ("headers", dict[str, str]), ("body", bytes)]
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads/dumps with options construct a new decoder/encoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class App:
    """Process-wide state: settings, the lazily loaded model, cache, metrics."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.log = Logger(self.settings.log_level)
        for problem in self.settings.problems:
            self.log.warning(problem)
        hooks = load_hooks(self.settings.hooks, self.log)
        self.metrics = Metrics(
            self.settings.metrics,
            self.settings.namespace,
            hooks,
            self.settings.hook_timeout_ms / 1000,
            self.log,
        )
        self.cache = (
            ResponseCache(self.settings.cache_size, self.settings.cache_ttl_s)
            if self.settings.cache_size > 0
            else None
        )
        self.dimensions = {
            "FunctionName": self.settings.function_name,
            "ModelName": "unknown",
            "ModelVersion": "unknown",
            "Resource": resource_of(None, self.settings.function_name),
        }
        self._invoked_arn: str | None = None
        self._model: Any = None
        self._sketch: Any = None  # the drift sketch of the loaded model (slpack_handler.drift)
        self._lock = _thread.allocate_lock()  # threading's Lock, without importing threading
        self._failure: str | None = None
        self._failed_at = 0.0
        self._cold = True

    # -- the model ---------------------------------------------------------------------------

    def model(self, record: MetricRecord | None = None, deadline: float | None = None) -> Any:
        """The loaded model; loads it on first use. Raises ModelUnavailable with the reason.

        ``deadline`` (``time.monotonic()`` seconds) is when the invocation must have answered: a
        load that fetches the model from S3 gives up in time to answer 503 instead.
        """
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is not None:
                return self._model
            if (
                self._failure
                and time.monotonic() - self._failed_at < self.settings.reload_backoff_s
            ):
                raise ModelUnavailable(self._failure)
            from slpack_handler.model import Model, load_manifest

            try:
                manifest = load_manifest(self.settings.model_dir)
                self.dimensions.update(
                    ModelName=str(manifest.get("name")), ModelVersion=str(manifest.get("version"))
                )
                model = Model(manifest, self.settings, deadline)
                self._sketch = self._open_sketch(manifest)
                self._model = model
            except Exception as exc:
                reason = (
                    str(exc)
                    if isinstance(exc, ModelUnavailable)
                    else f"the model could not be loaded ({type(exc).__name__}: {exc})"
                )
                self._failure, self._failed_at = reason, time.monotonic()
                if record is not None:
                    record.add("ModelLoadFailures", 1)
                self.log.error("model load failed", reason=reason)
                raise ModelUnavailable(reason) from None
            self._failure = None
            if record is not None:
                record.add("ModelLoadMs", round(self._model.load_ms, 3))
            return self._model

    def _open_sketch(self, manifest: dict[str, Any]) -> Any:
        """The manifest's drift baseline compiled, when sketches are on and have somewhere to go.

        A baseline this handler cannot read costs the sketches, never the requests.
        """
        if not (self.settings.drift and self.metrics.enabled and manifest.get("baseline")):
            return None
        from slpack_handler.drift import open_sketch

        try:
            return open_sketch(manifest)
        except Exception as exc:
            self.log.error(
                "the drift baseline cannot be read; requests are answered without drift sketches",
                error=f"{type(exc).__name__}: {exc}",
            )
            return None

    def warm(self) -> None:
        """Load during init (SLPACK_EAGER=1); a failure is logged and retried on the first
        request."""
        try:
            record = MetricRecord()
            self.model(record)
            self._pending_load_ms = record.values.get("ModelLoadMs")
        except ModelUnavailable:
            pass

    def invoked_as(self, arn: str | None) -> None:
        """Take the serving dimension (``Resource``) from the invoked ARN; worked out once per
        distinct ARN, so a warm container pays one string comparison per request."""
        if arn and arn != self._invoked_arn:
            self._invoked_arn = arn
            self.dimensions["Resource"] = resource_of(arn, self.settings.function_name)

    def restored(self) -> None:
        """Reset what a SnapStart snapshot would otherwise share between its restored copies.

        Random state is reseeded from the OS (numpy's too, when loaded), the first invocation
        reports a cold start again (without a load time: the load happened before the snapshot),
        cached answers go (their expiry times were measured before the snapshot) and a failed
        model load is retried at once rather than after a backoff timed on another clock.
        """
        import sys

        for name in ("random", "numpy.random"):
            module = sys.modules.get(name)
            if module is not None:
                module.seed()
        self._cold = True
        self._pending_load_ms = None
        if self.cache is not None:
            self.cache.clear()
        self._failure, self._failed_at = None, 0.0

    # -- requests ----------------------------------------------------------------------------

    def predict(
        self, payload: Any, record: MetricRecord | None = None, deadline: float | None = None
    ) -> dict[str, Any]:
        """Validate and answer one request body; raises RequestError / ModelUnavailable."""
        record = record if record is not None else MetricRecord()
        model = self.model(record, deadline)
        parsed = model.schema.parse(payload)
        record.add("BatchSize", parsed.rows)
        record.add("MissingValue", parsed.missing)
        record.add("UnknownCategory", parsed.unknown)
        record.add("OutOfRange", parsed.out_of_range)
        key = None
        if self.cache is not None:
            key = parsed.key()
            hit: dict[str, Any] | None = self.cache.get(key)
            record.add("CacheHits", 1 if hit is not None else 0)
            if hit is not None:
                self._count(parsed, hit["predictions"], record)
                return hit
        started = time.perf_counter()
        predictions = model.predict(parsed)
        record.add("InferenceMs", (time.perf_counter() - started) * 1000.0)
        self._count(parsed, predictions, record)
        response = {"predictions": predictions, "model": model.info}
        if key is not None:
            self.cache.put(key, response)  # type: ignore[union-attr]
        return response

    def _count(self, parsed: Any, predictions: list[dict[str, Any]], record: MetricRecord) -> None:
        """Add the request's drift sketch to its metric record (docs/drift.md)."""
        sketch = self._sketch
        if sketch is None:
            return
        try:
            sketch.add(parsed.columns, predictions, record, parsed.arrays)
        except Exception as exc:  # a sketch must never fail a request
            self.log.once(
                "drift-failed",
                "ERROR",
                f"a drift sketch could not be made ({type(exc).__name__}: {exc})",
            )

    def metadata(
        self, record: MetricRecord | None = None, deadline: float | None = None
    ) -> dict[str, Any]:
        model = self.model(record, deadline)
        m = model.manifest
        output = {k: v for k, v in m["output"].items() if k == "classes" and v is not None}
        return {
            "model": model.info,
            "task": m["task"],
            "input": {"layout": m["input"]["layout"], "features": model.schema.describe()},
            "output": output,
            "status": "ready",
        }

    def handle_http(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        request_id: str | None = None,
        deadline: float | None = None,
    ) -> HttpResponse:
        """Answer one HTTP request (headers with lower-case names) before ``deadline``."""
        request_id = request_id or _new_request_id()
        status, payload = self._invoke(
            lambda record: self._route(
                method.upper(), path or "/", headers, body, record, deadline
            ),
            request_id,
        )
        return _http_response(status, payload, request_id)

    def refuse(self, error: RequestError, request_id: str | None = None) -> HttpResponse:
        """Answer a request an adapter could not even read (a bad body encoding, say)."""

        def call(record: MetricRecord) -> tuple[int, dict[str, Any]]:
            raise error

        request_id = request_id or _new_request_id()
        status, payload = self._invoke(call, request_id)
        return _http_response(status, payload, request_id)

    def handle_direct(
        self, payload: Any, request_id: str | None = None, deadline: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Answer a direct invocation (the event is the request body)."""
        return self._invoke(
            lambda record: (200, self.predict(payload, record, deadline)),
            request_id or _new_request_id(),
        )

    def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        record: MetricRecord,
        deadline: float | None,
    ) -> tuple[int, dict[str, Any]]:
        trimmed = path.rstrip("/") or "/"
        if method in ("GET", "HEAD"):
            if trimmed == "/" or trimmed.endswith(_METADATA_PATHS):
                return 200, self.metadata(record, deadline)
            raise RequestError(
                404, "not_found", f"no resource at {path}; POST predictions to / or GET /metadata"
            )
        if method != "POST":
            raise RequestError(
                405, "method_not_allowed", f"{method} is not supported; POST a JSON body to predict"
            )
        if trimmed.endswith(_METADATA_PATHS):
            raise RequestError(405, "method_not_allowed", f"{path} answers GET only")
        return 200, self.predict(self._body(headers, body), record, deadline)

    def _body(self, headers: dict[str, str], body: bytes) -> Any:
        """The request body as JSON, after the limits and the content type are checked."""
        if len(body) > self.settings.max_body_bytes:
            raise RequestError(
                413,
                "payload_too_large",
                f"the body is {len(body)} bytes; send at most {self.settings.max_body_bytes}",
            )
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in _ACCEPTED_TYPES and not content_type.endswith("+json"):
            raise RequestError(
                415,
                "unsupported_media_type",
                f"content-type {content_type} is not supported; send application/json",
            )
        if not body.strip():
            raise RequestError(
                400,
                "invalid_json",
                "the body is empty; send a JSON object with instances or inputs",
            )
        try:
            payload = _DECODER.decode(body.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise RequestError(
                400, "invalid_json", f"the body is not valid JSON ({str(exc)[:120]})"
            ) from None
        return payload

    def _invoke(self, call: Any, request_id: str) -> tuple[int, dict[str, Any]]:
        """Run ``call`` with error mapping and one metric record, whatever happens."""
        started = time.perf_counter()
        record = MetricRecord()
        if self._cold:
            self._cold = False
            record.add("ColdStart", 1)
            pending = getattr(self, "_pending_load_ms", None)
            if pending is not None:
                record.add("ModelLoadMs", pending)
        record.properties["coldStart"] = "ColdStart" in record.values
        record.add("Errors", 0)
        record.add("ValidationErrors", 0)
        status, payload = self._answer(call, record, request_id)
        record.add("TotalMs", (time.perf_counter() - started) * 1000.0)
        record.properties["requestId"] = request_id
        record.properties["statusCode"] = status
        if status >= 400 and status != 404:
            self.log.log(
                "WARNING" if status < 500 else "ERROR",
                "request failed",
                requestId=request_id,
                status=status,
                code=payload["error"]["code"],
                error=payload["error"]["message"],
            )
        self._emit(record)
        return status, payload

    def _answer(
        self, call: Any, record: MetricRecord, request_id: str
    ) -> tuple[int, dict[str, Any]]:
        """``call``'s answer, or the error body it raised: 4xx the caller's, 5xx ours."""
        try:
            status, payload = call(record)
            return status, payload
        except RequestError as exc:
            record.add("ValidationErrors", 1)
            return exc.status, error_body(exc.code, exc.message, exc.details, request_id)
        except ModelUnavailable as exc:
            record.add("Errors", 1)
            message = f"the model is unavailable: {exc}"
            return 503, error_body("model_unavailable", message, None, request_id)
        except Exception as exc:  # a fault of ours: 500 with the request id, never a crash
            record.add("Errors", 1)
            import traceback  # the error path only

            self.log.error(
                "unhandled error",
                requestId=request_id,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(limit=20),
            )
            message = f"internal error; quote request id {request_id}"
            return 500, error_body("internal_error", message, None, request_id)

    def _emit(self, record: MetricRecord) -> None:
        if not self.metrics.enabled:
            return
        try:
            self.metrics.emit(record, self.dimensions)
        except Exception as exc:  # metrics must never fail a request
            self.log.once(
                "metrics-failed",
                "ERROR",
                f"metrics could not be emitted ({type(exc).__name__}: {exc})",
            )


def _http_response(status: int, payload: dict[str, Any], request_id: str) -> HttpResponse:
    data = _ENCODER.encode(payload).encode()
    return HttpResponse(status, {"content-type": JSON, "x-request-id": request_id}, data)


def _new_request_id() -> str:
    """A request id when the platform gave none (uuid is imported only then)."""
    import uuid

    return str(uuid.uuid4())


_app: App | None = None
_app_lock = _thread.allocate_lock()


def get_app() -> App:
    """The process-wide App, created on first use."""
    global _app
    if _app is None:
        with _app_lock:
            if _app is None:
                _app = App()
    return _app
