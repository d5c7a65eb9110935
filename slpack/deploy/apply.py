"""Apply a plan: run its calls in order, feeding each :class:`Ref` from the call that made it.

Steps that are already right (no calls) are skipped, so applying a plan computed against an
unchanged deployment makes no AWS call at all. Lambda's asynchronous updates are awaited with
its own waiters before the next call, and a role created moments ago is retried until IAM has
propagated it to Lambda.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slpack.deploy.aws import Aws, error_code
from slpack.deploy.steps import Call, Plan, Step, resolve_refs

ROLE_PROPAGATION_S = 60.0  # IAM usually needs ~10 s before Lambda can assume a new role
ROLE_RETRY_DELAY_S = 3.0
WAITER = {"Delay": 1, "MaxAttempts": 300}


def apply_plan(
    plan: Plan, aws: Aws, on_step: Callable[[Step], None] | None = None
) -> dict[str, Any]:
    """Run every change of ``plan``; return its outputs (version, url) with the new values filled
    in."""
    values: dict[str, Any] = {}
    for step in plan.changes:
        if on_step is not None:
            on_step(step)
        for call in step.calls:
            run_call(aws, call, values)
    return resolve_refs(plan.outputs, values)


def run_call(aws: Aws, call: Call, values: dict[str, Any]) -> dict[str, Any]:
    """One call and its waiter; ``values`` fills the call's :class:`Ref` parameters and receives its
    outputs."""
    client = aws.client(call.service)
    params = resolve_refs(call.params, values)
    operation = getattr(client, call.operation)
    deadline = time.monotonic() + ROLE_PROPAGATION_S
    while True:
        try:
            response = operation(**params)
            break
        except Exception as exc:
            if not (
                call.retry_while_role_propagates
                and _role_not_ready(exc)
                and time.monotonic() < deadline
            ):
                raise
            time.sleep(ROLE_RETRY_DELAY_S)
    response = response or {}  # upload_file answers None
    values.update({ref: response[key] for ref, key in call.outputs.items()})
    if call.wait:
        client.get_waiter(call.wait).wait(
            **resolve_refs(call.wait_args, values), WaiterConfig=WAITER
        )
    return response


def _role_not_ready(exc: Exception) -> bool:
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
    return error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in message
