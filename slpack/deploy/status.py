"""``slpack status``: what one function runs now, read from AWS.

Versions with the model each serves (from the description deploy writes), the share of ``live``
traffic each gets, the URL, the state of ``$LATEST``, and the alarms of the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slpack.alarms import alarm_specs
from slpack.deploy.aws import Aws
from slpack.deploy.state import FunctionState, read_function
from slpack.errors import SlpackError

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


def read_status(aws: Aws, function_name: str) -> Status:
    state = read_function(aws.client("lambda"), function_name)
    if not state.exists:
        raise SlpackError(
            f"there is no function {function_name} in {aws.region}; check the name and --region."
        )
    names = [
        spec.alarm_name(function_name) for spec in alarm_specs()
    ]  # every alarm slpack can create
    alarms = tuple(aws.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"])
    return Status(state, aws.region, alarms)
