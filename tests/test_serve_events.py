"""Event builders and the Function URL response mapping, checked against the AWS documentation."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus

import pytest

from slpack.serve.events import (
    EVENT_SHAPES,
    HttpRequest,
    alb_event,
    direct_event,
    function_url_event,
    http_api_event,
    rest_api_event,
)
from slpack.serve.front import function_url_reply
from slpack.serve.invocation import Outcome, Result, error_document

REQUEST = HttpRequest(
    method="POST",
    path="/predict",
    query="a=1&a=2&b=x%20y",
    headers=(
        ("Content-Type", "application/json"),
        ("User-Agent", "curl/8"),
        ("X-Multi", "one"),
        ("x-multi", "two"),
        ("Cookie", "s=1; theme=dark"),
    ),
    body=b'{"instances": [[1, 2]]}',
    source_ip="127.0.0.9",
)


def test_function_url_event_follows_payload_format_2() -> None:
    event = function_url_event(REQUEST, "rid")
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/predict" and event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["headers"] == {
        "content-type": "application/json",
        "user-agent": "curl/8",
        "x-multi": "one,two",
    }
    assert event["cookies"] == ["s=1", "theme=dark"]
    assert event["body"] == '{"instances": [[1, 2]]}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/predict",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.9",
        "userAgent": "curl/8",
    }
    assert context["requestId"] == "rid" and context["stage"] == "$default"
    assert context["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    assert context["authentication"] is None
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")


def test_v2_omits_what_the_request_lacks() -> None:
    event = function_url_event(HttpRequest(method="GET", path="/health"), "rid")
    assert "body" not in event and "cookies" not in event and "queryStringParameters" not in event
    assert event["rawQueryString"] == ""


@pytest.mark.parametrize(
    ("content_type", "body", "encoded"),
    [
        ("application/octet-stream", b"\x00\x01binary", True),
        ("image/png", b"\x89PNG", True),
        ("application/json", b"\xff\xfe not utf-8", True),
        ("text/csv; charset=utf-8", "a,b\n1,é".encode(), False),
        ("application/vnd.api+json", b"{}", False),
        (None, b"plain", False),
    ],
)
def test_binary_bodies_are_base64_encoded(
    content_type: str | None, body: bytes, encoded: bool
) -> None:
    headers = (("content-type", content_type),) if content_type else ()
    request = HttpRequest(method="POST", headers=headers, body=body)
    for build in (function_url_event, http_api_event, rest_api_event, alb_event):
        event = build(request, "rid")
        assert event["isBase64Encoded"] is encoded
        sent = base64.b64decode(event["body"]) if encoded else event["body"].encode()
        assert sent == body


def test_http_api_event_differs_from_function_url_only_in_context() -> None:
    event = http_api_event(REQUEST, "rid")
    assert event["requestContext"]["domainName"].endswith(".execute-api.us-east-1.amazonaws.com")
    assert "authentication" not in event["requestContext"]
    assert event["headers"] == function_url_event(REQUEST, "rid")["headers"]


def test_rest_api_event_follows_payload_format_1() -> None:
    event = rest_api_event(REQUEST, "rid")
    assert event["httpMethod"] == "POST" and event["path"] == "/predict"
    assert "requestContext" in event and "http" not in event["requestContext"]
    assert event["requestContext"]["path"] == "/prod/predict"
    assert event["headers"]["X-Multi"] == "one" and event["headers"]["x-multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["body"] == REQUEST.body.decode()


def test_alb_event() -> None:
    event = alb_event(REQUEST, "rid")
    assert set(event["requestContext"]) == {"elb"}
    assert event["requestContext"]["elb"]["targetGroupArn"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:"
    )
    assert event["queryStringParameters"] == {"a": "2", "b": "x%20y"}  # last value, still encoded
    assert event["headers"]["x-multi"] == "two"
    assert event["isBase64Encoded"] is False and event["body"] == REQUEST.body.decode()


def test_direct_event_is_the_body() -> None:
    assert direct_event(REQUEST, "rid") == {"instances": [[1, 2]]}
    assert set(EVENT_SHAPES) == {"url", "apigw-v2", "apigw-v1", "alb", "direct"}


def _result(value: object, outcome: Outcome = Outcome.RESPONSE) -> Result:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Result("rid", outcome, body)


def test_reply_infers_a_plain_json_answer() -> None:
    reply = function_url_reply(_result({"predictions": [1]}))
    assert reply.status == 200
    assert dict(reply.headers)["content-type"] == "application/json"
    assert json.loads(reply.body) == {"predictions": [1]}
    assert function_url_reply(_result("Hello, world!")).body == b'"Hello, world!"'


def test_reply_maps_a_structured_answer() -> None:
    reply = function_url_reply(
        _result(
            {
                "statusCode": 201,
                "headers": {"X-Custom": "v", "Content-Length": "999"},
                "cookies": ["a=1; Max-Age=10", "b=2"],
                "body": base64.b64encode(b"\x00\x01").decode(),
                "isBase64Encoded": True,
            }
        )
    )
    assert reply.status == 201 and reply.body == b"\x00\x01"
    assert ("x-custom", "v") in reply.headers
    assert [v for k, v in reply.headers if k == "set-cookie"] == ["a=1; Max-Age=10", "b=2"]
    assert "content-length" not in dict(reply.headers)  # the server computes it


@pytest.mark.parametrize(
    "value",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "@@", "isBase64Encoded": True},
        b"not json",
    ],
)
def test_an_invalid_answer_is_a_502(value: object) -> None:
    reply = function_url_reply(_result(value))
    assert reply.status == HTTPStatus.BAD_GATEWAY
    assert json.loads(reply.body)["error"]["code"] == "function_invalid_response"


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        (Outcome.ERROR, 502, "function_error"),
        (Outcome.CRASHED, 502, "function_crashed"),
        (Outcome.TIMED_OUT, 504, "function_timeout"),
        (Outcome.THROTTLED, 429, "too_many_requests"),
    ],
)
def test_failures_map_to_gateway_statuses(outcome: Outcome, status: int, code: str) -> None:
    reply = function_url_reply(_result(error_document("Kind", "what happened"), outcome))
    error = json.loads(reply.body)["error"]
    assert reply.status == status
    assert error == {
        "code": code,
        "message": "Kind: what happened",
        "details": [],
        "request_id": "rid",
    }
