"""Lambda events built from an HTTP request, in the shape each AWS front end sends.

The same request reaches a function differently through a Function URL or an HTTP API (payload
format 2.0), a REST API (the 1.0 proxy format), an Application Load Balancer, or a direct
``Invoke`` (the event is the body itself). ``slpack serve`` sends Function URL events;
``slpack invoke --event`` picks any of them, so each path of the handler's event parsing can be
exercised locally before it meets the real service.

References: "Lambda function URLs: request and response payloads", "Working with AWS Lambda
proxy integrations for HTTP APIs" (format 2.0 and 1.0) and "Lambda functions as targets of an
Application Load Balancer" in the AWS documentation.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

ACCOUNT_ID = "000000000000"  # a local stand-in for the function owner's account
API_ID = "slpacklocal"

# Content types the front ends pass as text; any other body arrives base64-encoded.
_TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/x-ndjson",
)


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as a front end received it (path and query still percent-encoded)."""

    method: str
    path: str = "/"
    query: str = ""  # without the leading "?"
    headers: tuple[tuple[str, str], ...] = ()  # in arrival order; names repeat
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or None."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


def _is_text(content_type: str | None) -> bool:
    if content_type is None:
        return True
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml"))


def _encoded_body(request: HttpRequest) -> tuple[str | None, bool]:
    """``(body, isBase64Encoded)``: text bodies as they are, binary ones base64-encoded."""
    if not request.body:
        return None, False
    if _is_text(request.header("content-type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _joined_headers(request: HttpRequest, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Lower-cased names; a repeated header's values joined with commas (format 2.0)."""
    joined: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        if key not in skip:
            joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _multi_headers(request: HttpRequest) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in request.headers:
        grouped.setdefault(name, []).append(value)
    return grouped


def _multi_query(request: HttpRequest) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        grouped.setdefault(name, []).append(value)
    return grouped


def _clock() -> tuple[int, str]:
    """``(epoch ms, "12/Mar/2020:19:03:58 +0000")``: the two request times events carry."""
    now = time.time()
    return int(now * 1000), time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _format_v2(
    request: HttpRequest, request_id: str, domain: str, account_id: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """Payload format 2.0, shared by Function URLs and HTTP APIs (``extra``: their own context)."""
    epoch_ms, timestamp = _clock()
    body, encoded = _encoded_body(request)
    cookie_header = request.header("cookie")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": _joined_headers(request, skip=("cookie",)),
        "requestContext": {
            "accountId": account_id,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": unquote(request.path),
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": timestamp,
            "timeEpoch": epoch_ms,
            **extra,
        },
        "isBase64Encoded": encoded,
    }
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.split(";") if c.strip()]
    query = _multi_query(request)
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if body is not None:
        event["body"] = body
    return event


def function_url_event(
    request: HttpRequest, request_id: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """What a Lambda Function URL sends (payload format 2.0, auth type NONE)."""
    domain = f"{API_ID}.lambda-url.{region}.on.aws"
    return _format_v2(request, request_id, domain, "anonymous", {"authentication": None})


def http_api_event(
    request: HttpRequest, request_id: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """What an API Gateway HTTP API sends (payload format 2.0, ``$default`` route and stage)."""
    domain = f"{API_ID}.execute-api.{region}.amazonaws.com"
    return _format_v2(request, request_id, domain, ACCOUNT_ID, {})


def rest_api_event(
    request: HttpRequest, request_id: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """What an API Gateway REST API proxy integration sends (format 1.0, stage ``prod``)."""
    epoch_ms, timestamp = _clock()
    body, encoded = _encoded_body(request)
    headers = _multi_headers(request)
    query = _multi_query(request)
    path = unquote(request.path)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": f"{API_ID}.execute-api.{region}.amazonaws.com",
            "domainPrefix": API_ID,
            "httpMethod": request.method,
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent")},
            "path": f"/prod{path}",
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": timestamp,
            "requestTimeEpoch": epoch_ms,
            "resourceId": "proxy",
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def alb_event(request: HttpRequest, request_id: str, region: str = "us-east-1") -> dict[str, Any]:
    """What an Application Load Balancer sends (multi-value headers off: the last value wins).

    The load balancer passes query parameters still percent-encoded.
    """
    body, encoded = _encoded_body(request)
    query = {}
    for pair in filter(None, request.query.split("&")):
        name, _, value = pair.partition("=")
        query[name] = value
    arn = (
        f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:targetgroup/{API_ID}/{request_id[:16]}"
    )
    return {
        "requestContext": {"elb": {"targetGroupArn": arn}},
        "httpMethod": request.method,
        "path": request.path,
        "queryStringParameters": query,
        "headers": {name.lower(): value for name, value in request.headers},
        "body": body or "",
        "isBase64Encoded": encoded,
    }


def direct_event(request: HttpRequest, request_id: str, region: str = "us-east-1") -> Any:
    """A direct ``Invoke``: the event is the JSON body itself."""
    return json.loads(request.body)


EventBuilder = Callable[[HttpRequest, str, str], Any]

EVENT_SHAPES: dict[str, EventBuilder] = {
    "url": function_url_event,
    "apigw-v2": http_api_event,
    "apigw-v1": rest_api_event,
    "alb": alb_event,
    "direct": direct_event,
}
"""The ``--event`` choices of ``slpack invoke``."""
