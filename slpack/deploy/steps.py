"""The plan's vocabulary: steps made of AWS calls, as plain data.

A :class:`Plan` is computed from the bundle and what is deployed now, printed, and only then
applied; because it is data, tests can read it and a second run can show that every step is a
no-op. A value that only exists once an earlier step ran (the ARN of a layer version about to be
published, the number of the function version about to be published) is a :class:`Ref`, filled
in by :mod:`slpack.deploy.apply` from that step's response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slpack.deploy.aws import Service

UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Ref:
    """A value produced by an earlier call of the same plan (see :attr:`Call.outputs`)."""

    name: str

    def __str__(self) -> str:
        return f"<new {self.name}>"


@dataclass(frozen=True)
class Call:
    """One boto3 client call: ``aws.client(service).<operation>(**params)``."""

    service: Service
    operation: str
    params: dict[str, Any]
    outputs: dict[str, str] = field(
        default_factory=dict
    )  # Ref name -> key of the response that holds it
    wait: str | None = (
        None  # Lambda waiter to run afterwards (Lambda applies changes asynchronously)
    )
    wait_args: dict[str, Any] = field(
        default_factory=dict
    )  # its arguments (Refs to this call's outputs allowed)
    retry_while_role_propagates: bool = (
        False  # a role created moments ago is not yet assumable by Lambda
    )
    # A read run with ``wait_args`` once the waiter is done: its answer fills ``outputs`` (the
    # RevisionId the next guarded write must name) and must hold ``expect``, else someone else
    # changed the resource in between.
    settle: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One change to one resource (or the finding that it is already right: no calls)."""

    resource: (
        str  # s3 object, layer, role, log group, function, version, alias, url, permission, alarm
    )
    name: str
    action: str  # create, update, upload, publish, move, delete, ... or UNCHANGED
    detail: str
    calls: tuple[Call, ...] = ()

    @property
    def noop(self) -> bool:
        return not self.calls


def unchanged(resource: str, name: str, detail: str) -> Step:
    return Step(resource, name, UNCHANGED, detail)


@dataclass(frozen=True)
class Plan:
    """The ordered steps of a deploy or rollback of one function."""

    function_name: str
    region: str
    steps: tuple[Step, ...]
    outputs: dict[str, Any] = field(
        default_factory=dict
    )  # what the plan already knows: url, version, alias arn

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if not s.noop]


def resolve_refs(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with every :class:`Ref` (also as a dict key) replaced by what ``values`` holds for
    it."""
    if isinstance(value, Ref):
        return values[value.name]
    if isinstance(value, dict):
        return {resolve_refs(k, values): resolve_refs(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(resolve_refs(v, values) for v in value)
    if isinstance(value, Path):
        return str(value)
    return value
