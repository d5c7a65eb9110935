"""Apply a plan: run its calls in order, feeding each :class:`Ref` from the call that made it.

Steps that are already right (no calls) are skipped, so applying a plan computed against an
unchanged deployment makes no AWS call at all. Lambda's asynchronous updates are awaited with
its own waiters before the next call, and a role created moments ago is retried until IAM has
propagated it to Lambda. Writes guarded by Lambda's ``RevisionId`` fail with
``PreconditionFailedException`` when the function or alias changed since it was read; that, or a
settled read that does not show this deploy's change, stops the plan with one sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slpack.deploy.aws import Aws, error_code
from slpack.deploy.signing import SIGNED_SHA256, object_sha256
from slpack.deploy.steps import Call, Plan, Step, resolve_refs
from slpack.deploy.upload import upload_file
from slpack.errors import SlpackError

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
        try:
            for call in step.calls:
                run_call(aws, call, values)
        except Exception as exc:
            if error_code(exc) == "PreconditionFailedException":
                raise _changed(step, "its RevisionId no longer matches") from None
            raise
    return resolve_refs(plan.outputs, values)  # type: ignore[no-any-return]


def _changed(step: Step, how: str) -> SlpackError:
    return SlpackError(
        f"{step.resource} {step.name} changed after this command read it ({how}: another "
        f"deploy, a rollback or a console edit), so it stopped before {step.action}; run "
        "slpack status, then run the command again."
    )


def run_call(aws: Aws, call: Call, values: dict[str, Any]) -> dict[str, Any]:
    """One call and its waiter; ``values`` fills the call's :class:`Ref` parameters and receives its
    outputs."""
    client = aws.client(call.service)
    # A value AWS did not give (moto has no function RevisionId) is not sent.
    params = {k: v for k, v in resolve_refs(call.params, values).items() if v is not None}
    operation = _operation(client, call.operation)
    deadline = time.monotonic() + ROLE_PROPAGATION_S
    response: dict[str, Any] | None
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
    values.update({ref: _lookup(response, key) for ref, key in call.outputs.items()})
    if call.wait:
        client.get_waiter(call.wait).wait(
            **resolve_refs(call.wait_args, values), WaiterConfig=WAITER
        )
    if call.settle:
        settled: dict[str, Any] = getattr(client, call.settle)(
            **resolve_refs(call.wait_args, values)
        )
        response = settled
        for key, wanted in resolve_refs(call.expect, values).items():
            if response.get(key) != wanted:
                raise SlpackError(
                    f"{call.params.get('FunctionName', 'the function')} changed while this "
                    f"deploy ran ({key} is {response.get(key)}, not {wanted}: another deploy or "
                    "a console edit); it stopped before publishing: run slpack status, then "
                    "deploy again."
                )
        values.update({ref: _lookup(response, key) for ref, key in call.outputs.items()})
    return response


def _operation(client: Any, name: str) -> Callable[..., Any]:
    """The client's operation ``name``, or one of ours that boto3 lacks."""
    if name == "upload_file":  # aborts an interrupted multipart upload
        return lambda **kw: upload_file(client, Path(kw.pop("Filename")), **kw)
    if name == SIGNED_SHA256:  # a signed copy's hash, known only once Signer wrote it
        return lambda **kw: object_sha256(client, **kw)
    return getattr(client, name)  # type: ignore[no-any-return]


def _lookup(response: dict[str, Any], path: str) -> Any:
    """``response[a][b]...`` for the output path ``a.b...`` (None where a part is missing)."""
    value: Any = response
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _role_not_ready(exc: Exception) -> bool:
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
    return error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in message
