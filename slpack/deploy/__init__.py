"""``slpack deploy``, ``rollback`` and ``status``: ship a bundle to AWS Lambda with boto3.

The Chalice way: :func:`deploy` reads what AWS has, computes a :class:`~slpack.deploy.steps.Plan`
(:mod:`~slpack.deploy.plan`), hands it to the caller to print, and only then applies it
(:mod:`~slpack.deploy.apply`). Every step compares before it changes, so a second deploy of the
same bundle plans only no-ops and calls nothing that writes. boto3 is imported on first use
(:mod:`~slpack.deploy.aws`), never by ``slpack build``.

A deploy holds the function's lease (:mod:`~slpack.deploy.lease`) from before it reads AWS until
it has read back what it left, and every Lambda write names the ``RevisionId`` it expects; the
outputs it reports (``live``, ``canary``) are read from AWS after applying, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slpack.deploy.apply import apply_plan
from slpack.deploy.aws import Aws, aws_errors, connect
from slpack.deploy.lease import held
from slpack.deploy.options import DeployOptions, resolve_bundle
from slpack.deploy.plan import check_bucket, plan_deploy
from slpack.deploy.rollback import plan_rollback
from slpack.deploy.state import read_function
from slpack.deploy.status import Status, read_status
from slpack.deploy.steps import Plan, Step
from slpack.deployment import function_name_for

OnPlan = Callable[[Plan], None]
OnStep = Callable[[Step], None]


@dataclass(frozen=True)
class Outcome:
    """A plan and, unless it was a dry run, what applying it produced (``version``, ``url``)."""

    plan: Plan
    applied: bool
    outputs: dict[str, Any]


def deploy(
    bundle_dir: Path,
    options: DeployOptions,
    *,
    dry_run: bool = False,
    on_plan: OnPlan | None = None,
    on_step: OnStep | None = None,
) -> Outcome:
    """Plan the deploy of the bundle in ``bundle_dir``, show it to ``on_plan``, then apply it
    (unless ``dry_run``)."""
    d = resolve_bundle(Path(bundle_dir), options)
    aws = connect(options.region, options.endpoint_url)
    with aws_errors():
        if dry_run:  # reads only: no lease needed
            return _run(plan_deploy(d, options, aws), aws, dry_run, on_plan, on_step)
        check_bucket(aws, options.bucket)
        with held(aws, options.bucket, d.function_name, options.wait_s) as lease:

            def step(s: Step) -> None:
                lease.keep()
                if on_step is not None:
                    on_step(s)

            outcome = _run(plan_deploy(d, options, aws), aws, dry_run, on_plan, step)
            return _confirmed(outcome, aws)


def rollback(
    name: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    to: str | None = None,
    dry_run: bool = False,
    on_plan: OnPlan | None = None,
    on_step: OnStep | None = None,
) -> Outcome:
    """Move ``live`` of the function ``name`` back to the version before (or to version ``to``)."""
    aws = connect(region, endpoint_url)
    with aws_errors():
        plan = plan_rollback(
            read_function(aws.client("lambda"), function_name_for(name)), aws.region, to
        )
        outcome = _run(plan, aws, dry_run, on_plan, on_step)
        return outcome if dry_run else _confirmed(outcome, aws)


def status(name: str, *, region: str | None = None, endpoint_url: str | None = None) -> Status:
    """What the function ``name`` runs now."""
    aws = connect(region, endpoint_url)
    with aws_errors():
        return read_status(aws, function_name_for(name))


def _confirmed(outcome: Outcome, aws: Aws) -> Outcome:
    """The outcome with ``live`` and ``canary`` as AWS holds them now, read back from the alias."""
    fn = outcome.plan.function_name
    alias = read_function(aws.client("lambda"), fn).alias
    if alias is None:
        return outcome
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    outputs = {**outcome.outputs, "live": alias["FunctionVersion"], "canary": dict(weights)}
    return Outcome(outcome.plan, outcome.applied, outputs)


def _run(
    plan: Plan, aws: Any, dry_run: bool, on_plan: OnPlan | None, on_step: OnStep | None
) -> Outcome:
    if on_plan is not None:
        on_plan(plan)
    if dry_run:
        return Outcome(plan, False, plan.outputs)
    return Outcome(plan, True, apply_plan(plan, aws, on_step))


__all__ = ["DeployOptions", "Outcome", "Plan", "Status", "Step", "deploy", "rollback", "status"]
