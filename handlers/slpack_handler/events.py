"""AWS Lambda event shapes: detect, translate to the App's HTTP core, translate back.

Shapes (by their documented fields): API Gateway REST v1 proxy (``httpMethod``), HTTP API v2 and
Function URLs (``version: "2.0"`` with ``requestContext.http``), ALB (``requestContext.elb``),
and direct invocation (anything else: the event is the request body).
"""

from __future__ import annotations

import time
from typing import Any

from slpack_handler.app import HttpResponse, get_app
from slpack_handler.errors import RequestError

DIRECT, V1, V2, ALB = "direct", "apigw-v1", "apigw-v2", "alb"


def kind_of(event: Any) -> str:
    if not isinstance(event, dict):
        return DIRECT
    context = event.get("requestContext")
    if isinstance(context, dict):
        if "elb" in context:
            return ALB
        if isinstance(context.get("http"), dict):
            return V2
    if "httpMethod" in event:
        return V1
    return DIRECT


def _headers(event: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for name, values in multi.items():
            if isinstance(values, list) and values:
                headers[str(name).lower()] = str(values[-1])
    single = event.get("headers")
    if isinstance(single, dict):
        for name, value in single.items():
            headers[str(name).lower()] = str(value)
    return headers


def _body(event: dict[str, Any]) -> bytes:
    """The raw body; raises ValueError when it cannot be decoded."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise ValueError("the event body must be a string")
    if event.get("isBase64Encoded"):
        import base64  # binary bodies only: no import cost for JSON ones
        import binascii

        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the body is marked base64 but is not valid base64") from None
    return body.encode("utf-8")


def _request_id(event: dict[str, Any], context: Any) -> str | None:
    rid = getattr(context, "aws_request_id", None)
    if rid:
        return str(rid)
    ctx = event.get("requestContext") if isinstance(event, dict) else None
    return str(ctx.get("requestId")) if isinstance(ctx, dict) and ctx.get("requestId") else None


def dispatch(event: Any, context: Any) -> Any:
    """The Lambda entry point's body: route the event by shape and answer in the same shape."""
    app = get_app()
    app.invoked_as(getattr(context, "invoked_function_arn", None))
    kind = kind_of(event)
    request_id = _request_id(event if isinstance(event, dict) else {}, context)
    deadline = _deadline(context)
    if kind == DIRECT:
        status, payload = app.handle_direct(event, request_id, deadline)
        return payload if status == 200 else {**payload, "statusCode": status}
    if kind == V2:
        http = event["requestContext"]["http"]
        method, path = (
            str(http.get("method", "GET")),
            str(event.get("rawPath") or http.get("path") or "/"),
        )
    else:
        method, path = str(event.get("httpMethod") or "GET"), str(event.get("path") or "/")
    try:
        body = _body(event)
    except (ValueError, UnicodeEncodeError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "the body is not valid UTF-8"
        return to_event(
            kind, app.refuse(RequestError(400, "invalid_request", message), request_id), event
        )
    headers = _headers(event)
    return to_event(kind, app.handle_http(method, path, headers, body, request_id, deadline), event)


def _deadline(context: Any) -> float | None:
    """When the invocation times out, on ``time.monotonic()``'s clock (None when unknown)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    try:
        return time.monotonic() + float(remaining()) / 1000.0
    except (TypeError, ValueError):
        return None


def to_event(kind: str, response: HttpResponse, event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "statusCode": response.status,
        "headers": response.headers,
        "body": response.body.decode(),
        "isBase64Encoded": False,
    }
    if kind == ALB:
        from http import HTTPStatus  # ALB only: no import cost for the other shapes

        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        out["statusDescription"] = f"{response.status} {phrase}".strip()
        if "multiValueHeaders" in event:
            out["multiValueHeaders"] = {k: [v] for k, v in out.pop("headers").items()}
    return out
