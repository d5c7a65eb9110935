"""The serving dimension set: every metric line also names the alias (or version) that was invoked,
which is what the alarms watch (slpack.alarms), so they follow traffic through canaries and
rollbacks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from slpack.alarms import AlarmTarget, alarm_properties, alarm_specs
from slpack_handler.app import App
from slpack_handler.config import Settings
from slpack_handler.contract import DIMENSION_SETS, SERVING_DIMENSIONS
from slpack_handler.metrics import resource_of

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:iris"


@pytest.mark.parametrize(
    ("arn", "version", "expected"),
    [
        (f"{ARN}:live", None, "iris:live"),
        (f"{ARN}:7", None, "iris:7"),
        (ARN, None, "iris"),
        (None, "3", "iris-fn:3"),
        (None, None, "iris-fn"),
    ],
)
def test_resource_comes_from_the_invoked_arn(
    arn: str | None, version: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_VERSION", raising=False)
    if version:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", version)
    assert resource_of(arn, "iris-fn") == expected


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_each_line_carries_the_alias_it_was_invoked_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with no model at all (the model-load-failure alarm's case), the line names the alias."""
    from slpack_handler import events

    app = App(Settings(model_dir=str(tmp_path), metrics="emf", function_name="iris"))
    monkeypatch.setattr(events, "get_app", lambda: app)
    event = {"version": "2.0", "rawPath": "/health", "requestContext": {"http": {"method": "GET"}}}

    events.dispatch(event, SimpleNamespace(invoked_function_arn=f"{ARN}:live"))
    events.dispatch(event, SimpleNamespace(invoked_function_arn=f"{ARN}:2"))

    first, second = _lines(capsys.readouterr().out)
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [list(names) for names in DIMENSION_SETS]
    assert (first["Resource"], second["Resource"]) == ("iris:live", "iris:2")
    assert first["ModelLoadFailures"] == 1 and first["ModelVersion"] == "unknown"


def test_the_alarms_read_the_serving_set_of_the_live_alias() -> None:
    """What the handler writes and what the alarms read are the same dimensions and values."""
    props = alarm_properties(
        next(s for s in alarm_specs() if s.key == "errors"), AlarmTarget("iris")
    )
    assert [d["Name"] for d in props["Dimensions"]] == list(SERVING_DIMENSIONS)
    assert {d["Name"]: d["Value"] for d in props["Dimensions"]} == {
        "FunctionName": "iris",
        "Resource": "iris:live",
    }
