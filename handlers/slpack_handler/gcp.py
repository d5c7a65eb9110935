"""The Google Cloud Run functions adapter: the Functions Framework's HTTP signature on the one core.

``gcloud functions deploy --entry-point predict`` calls :func:`predict` (re-exported by the
rendered ``main.py``) with a flask ``Request`` and sends back whatever flask accepts; this module
uses only the request attributes every Functions Framework version has (``method``, ``path``,
``headers``, ``get_data``) and returns a ``(body, status, headers)`` tuple, so it imports neither
flask nor functions_framework, and the Lambda path never loads it.
"""

from __future__ import annotations

from typing import Any

from slpack_handler.app import get_app


def predict(request: Any) -> tuple[bytes, int, dict[str, str]]:
    """Answer one HTTP request: POST any path predicts, GET / or /metadata describes the model."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    body = request.get_data(cache=False)
    response = get_app().handle_http(
        request.method, request.path, headers, body, request_id(headers)
    )
    return response.body, response.status, response.headers


def request_id(headers: dict[str, str]) -> str | None:
    """The platform's name for this request, so an error body can be matched with its logs.

    Cloud Run functions send ``Function-Execution-Id``; otherwise the trace id of
    ``X-Cloud-Trace-Context`` (``TRACE/SPAN;o=1``) or W3C ``traceparent`` (``00-TRACE-SPAN-01``).
    """
    execution = headers.get("function-execution-id")
    if execution:
        return execution
    trace = headers.get("x-cloud-trace-context", "").split("/", 1)[0]
    if trace:
        return trace
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and parts[1] else None
