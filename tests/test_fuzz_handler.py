"""Hostile and broken input, generated: the handler answers every event with a well-formed 2xx/4xx,
never a 5xx or an escaping exception, and a good request after each bad one still answers right.

The handler runs in this process (one bundle per module, loaded through the Lambda entry point
from the unzipped function.zip), so thousands of events take seconds.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import sys
import tracemalloc
from typing import Any

import pytest
from conftest import unpack_function
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipelines import COVERAGE

from slpack.bundler import build_bundle

FUZZ_EXAMPLES = 150  # per property and bundle: 4 bundles x 3 properties, a few thousand events


# Every input layout (named columns, one numeric tensor, raw text) on both runtimes between them.
CASES = [
    ("mixed-logreg", "onnxruntime"),
    ("mixed-logreg", "python"),
    ("standard-scaler-logreg", "python"),
    ("tfidf-logreg", "onnxruntime"),
]


@pytest.fixture(scope="module", params=CASES, ids=[f"{c}-{r}" for c, r in CASES])
def handler(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundle's own slpack_handler, imported from its unzipped function.zip; the repo's copy
    (which other tests hold) is put back afterwards."""
    case, runtime = request.param
    tmp = tmp_path_factory.mktemp("fuzz")
    model, sample = COVERAGE[case]()
    result = build_bundle(model, sample, tmp / "dist", name="fuzz", runtime=runtime)
    root = unpack_function(result.bundle_dir, tmp / "task")
    mp = pytest.MonkeyPatch()
    mp.setenv("SLPACK_METRICS", "none")
    mp.setenv("SLPACK_MAX_BATCH", "50")
    mp.setenv("SLPACK_MAX_BODY_BYTES", "65536")
    mp.syspath_prepend(str(root))
    for name in [
        m for m in sys.modules if m == "slpack_handler" or m.startswith("slpack_handler.")
    ]:
        mp.delitem(sys.modules, name)
    module = importlib.import_module("slpack_handler")
    good = {
        "instances": [
            {k: _plain(v) for k, v in row.items()} for _, row in sample.head(3).iterrows()
        ]
    }
    expected = module.handler(good, None)
    assert "predictions" in expected, expected
    yield module, good, expected
    for name in [
        m for m in sys.modules if m == "slpack_handler" or m.startswith("slpack_handler.")
    ]:
        del sys.modules[name]  # the bundle's copy
    mp.undo()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# -- strategies -----------------------------------------------------------------------------

FIELDS = [
    "age",
    "monthly_spend",
    "visits",
    "is_member",
    "plan",
    "region",
    "tier",
    "text",
    "sepal length (cm)",
    "unknown_field",
    "",
]
# Strings the JSON parser accepts but no model can encode (lone surrogates), and strings some
# C code might (NUL, a BOM, a replacement character, non-ASCII words).
HOSTILE_STRINGS = st.one_of(
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4),
    st.sampled_from(
        [
            "\ud800",
            "a\udfffb",
            "\udc80\udc80",
            "\x00",
            "pro\x00",
            "\ufeffbasic",
            "\ufffd",
            "caf\u00e9",
        ]
    ),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    HOSTILE_STRINGS,
    st.sampled_from(["basic", "pro", "eu", "low", "1e400", "NaN", "\u0000", "\U0001f600" * 3]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
records = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))
bodies = st.one_of(
    st.fixed_dictionaries({"instances": st.lists(st.one_of(records, json_values), max_size=6)}),
    st.fixed_dictionaries(
        {
            "inputs": st.dictionaries(
                st.sampled_from(FIELDS),
                st.one_of(st.lists(json_values, max_size=5), json_values),
                max_size=8,
            )
        }
    ),
    st.dictionaries(st.text(max_size=10), json_values, max_size=3),
    json_values,
)


def _dump(body: Any) -> str:
    return json.dumps(body, allow_nan=True)


raw_texts = st.one_of(
    bodies.map(_dump),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.just(""),
    st.just("{" * 5000 + "}" * 5000),
    st.just('{"instances": [' + ",".join(['{"age": 1}'] * 60) + "]}"),  # over the batch limit
    st.just('{"instances": [{"plan": "' + "x" * 70000 + '"}]}'),  # over the body limit
)


@st.composite
def http_events(draw: st.DrawFn) -> dict[str, Any]:
    text = draw(raw_texts)
    encode = draw(st.booleans())
    body = base64.b64encode(text.encode("utf-8", "surrogatepass")).decode() if encode else text
    if encode and draw(st.booleans()):
        body = body[:-1] + "*"  # invalid base64
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE", "OPTIONS"]))
    path = draw(
        st.sampled_from(["/", "/predict", "/health", "/metadata", "/nope", "/stage/predict"])
    )
    headers = draw(
        st.dictionaries(
            st.sampled_from(["content-type", "Content-Type", "x-request-id", "accept"]),
            st.sampled_from(
                [
                    "application/json",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "",
                    "application/json; charset=utf-8",
                ]
            ),
            max_size=3,
        )
    )
    shape = draw(st.sampled_from(["v1", "v2", "alb"]))
    if shape == "v1":
        return {
            "httpMethod": method,
            "path": path,
            "headers": headers,
            "body": body,
            "isBase64Encoded": encode,
            "requestContext": {"requestId": "fuzz", "stage": "prod"},
        }
    if shape == "alb":
        return {
            "httpMethod": method,
            "path": path,
            "headers": headers,
            "body": body,
            "isBase64Encoded": encode,
            "requestContext": {
                "elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:tg/x/y"}
            },
        }
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "body": body,
        "isBase64Encoded": encode,
        "requestContext": {"requestId": "fuzz", "http": {"method": method, "path": path}},
    }


# -- invariants -----------------------------------------------------------------------------


def _check_error(error: Any) -> None:
    assert isinstance(error, dict), error
    assert isinstance(error.get("code"), str) and error["code"]
    assert isinstance(error.get("message"), str) and error["message"]
    assert isinstance(error.get("details", []), list)


def _check_http(response: Any) -> None:
    assert isinstance(response, dict) and isinstance(response.get("statusCode"), int), response
    status = response["statusCode"]
    assert 200 <= status < 500, response
    payload = json.loads(response["body"])
    if status >= 400:
        _check_error(payload.get("error"))
    else:
        assert "predictions" in payload or "model" in payload


def _check_direct(response: Any) -> None:
    assert isinstance(response, dict), response
    if "error" in response:
        _check_error(response["error"])
        assert 400 <= response.get("statusCode", 400) < 500, response
    else:
        assert "predictions" in response


def _still_good(handler: Any) -> None:
    module, good, expected = handler
    assert module.handler(good, None) == expected


SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@SETTINGS
@given(event=http_events())
def test_http_events_never_fail_the_server(handler: Any, event: dict[str, Any]) -> None:
    _check_http(handler[0].handler(event, None))
    _still_good(handler)


@SETTINGS
@given(body=bodies)
def test_direct_invocations_never_fail_the_server(handler: Any, body: Any) -> None:
    _check_direct(handler[0].handler(body, None))
    _still_good(handler)


def test_memory_stays_bounded_under_bad_input(handler: Any) -> None:
    module, _, _ = handler
    bad = {"instances": [{"age": "x" * 1000, "plan": [1, 2, {"a": None}]}] * 40}
    for _ in range(50):
        module.handler(bad, None)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(300):
        module.handler(bad, None)
        module.handler({"instances": "not a list"}, None)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert growth < 2_000_000, f"memory grew by {growth} bytes over 600 bad requests"
