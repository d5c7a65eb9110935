"""``slpack status``: what one function runs now, read from AWS.

Versions with the model each serves (from the description deploy writes), the share of ``live``
traffic each gets, the URL, the state of ``$LATEST``, and the alarms of the function with the
versions each one watches (read back from the alarm's own dimensions, so an alarm left on an old
model version by an earlier slpack shows up as watching no traffic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slpack.alarms import PREDICTION_DRIFT, alarm_specs
from slpack.deploy.aws import Aws
from slpack.deploy.state import FunctionState, parse_description, read_function
from slpack.errors import SlpackError
from slpack_handler.contract import ALIAS

SHOWN_VERSIONS = 10  # the newest ones; older versions still count for --to


@dataclass(frozen=True)
class Status:
    state: FunctionState
    region: str
    alarms: tuple[dict[str, Any], ...]  # the function's CloudWatch alarms (slpack's names)

    def alarm_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for alarm in self.alarms:
            counts[alarm["StateValue"]] = counts.get(alarm["StateValue"], 0) + 1
        return counts

    def watches(self, alarm: dict[str, Any]) -> str:
        """Which versions ``alarm`` watches: ``live: version 1 (90%), version 2 (10%)``."""
        return watched(alarm, self.state)


def _dimension_values(alarm: dict[str, Any], name: str) -> set[str]:
    """The values of dimension ``name`` across the alarm's metric (or its metric-math inputs)."""
    lists = [alarm.get("Dimensions") or []] + [
        ((query.get("MetricStat") or {}).get("Metric") or {}).get("Dimensions") or []
        for query in alarm.get("Metrics") or []
    ]
    return {d["Value"] for dims in lists for d in dims if d.get("Name") == name}


def _shares(versions: list[str], traffic: dict[str, float]) -> str:
    return ", ".join(
        f"version {v} ({traffic[v]:.0%})" if v in traffic else f"version {v} (no traffic)"
        for v in versions
    )


def watched(alarm: dict[str, Any], state: FunctionState) -> str:
    """What an alarm's dimensions point at, resolved against the function's alias and versions."""
    traffic, name = state.traffic, state.name
    resources = _dimension_values(alarm, "Resource")
    models = _dimension_values(alarm, "ModelVersion")
    if models:  # an alarm an earlier slpack pinned to one model version
        versions = [
            v["Version"]
            for v in state.versions
            if (parse_description(v.get("Description")) or {}).get("version") in models
        ]
        served = any(v in traffic for v in versions)
        return f"model {', '.join(sorted(models))}: " + (
            _shares(versions, traffic)
            if served
            else "serves no traffic (deploy again to make it follow the live alias)"
        )
    if resources == {f"{name}:{ALIAS}"}:
        ordered = sorted(traffic, key=lambda v: -traffic[v])
        return f"{ALIAS}: {_shares(ordered, traffic)}" if ordered else f"{ALIAS} (no alias yet)"
    qualifiers = sorted(r.partition(":")[2] for r in resources)
    if qualifiers:
        return _shares(qualifiers, traffic)
    return "every version"


def read_status(aws: Aws, function_name: str) -> Status:
    state = read_function(aws.client("lambda"), function_name)
    if not state.exists:
        raise SlpackError(
            f"there is no function {function_name} in {aws.region}; check the name and --region."
        )
    names = [  # every alarm slpack can create
        *(spec.alarm_name(function_name) for spec in alarm_specs()),
        f"{function_name}-{PREDICTION_DRIFT}",  # with a baseline that has predictions
    ]
    alarms = tuple(aws.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"])
    return Status(state, aws.region, alarms)
