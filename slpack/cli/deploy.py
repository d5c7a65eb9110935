"""``slpack deploy``, ``slpack rollback`` and ``slpack status``: the deploy loop against AWS Lambda.

The plan goes to stderr as a table before anything changes (``--dry-run`` stops there); the
function URL (or, without one, the version now live) goes to stdout for scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from slpack.cli import app, options

if TYPE_CHECKING:
    from slpack.deploy import Outcome, Plan, Step

_err = Console(stderr=True, highlight=False, soft_wrap=True)

REGION = typer.Option(
    "--region", help="AWS region (default: AWS_DEFAULT_REGION or the AWS configuration's)."
)
ENDPOINT = typer.Option(
    "--endpoint-url", help="Another AWS endpoint, e.g. a local moto or LocalStack server."
)
FUNCTION = typer.Argument(
    help="Function name (or the bundle's name it was deployed under).", show_default=False
)
DRY_RUN = typer.Option("--dry-run", help="Print the plan and change nothing.")


@app.command()
def deploy(
    bundle: Annotated[
        Path,
        typer.Argument(
            help="Bundle folder written by slpack build (dist/NAME).", show_default=False
        ),
    ],
    bucket: Annotated[
        str,
        typer.Option(
            help="Existing S3 bucket (in the function's region) for the code and layer zips.",
            show_default=False,
        ),
    ],
    region: Annotated[str | None, REGION] = None,
    function_name: Annotated[
        str | None, typer.Option(help="Lambda function name (default: the bundle's name).")
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(
            help="Layer zip from slpack layer, or a layer version ARN (default: the bundle's "
            "layer, if at hand)."
        ),
    ] = None,
    python: options.Python = None,
    arch: options.Arch = None,
    memory: options.Memory = 1024,
    timeout: options.Timeout = 30,
    url: Annotated[
        str,
        typer.Option(
            help="Function URL on the live alias: iam (signed requests only), public, or none."
        ),
    ] = "iam",
    canary: Annotated[
        float | None,
        typer.Option(
            help="Send this percent of live traffic to the new version; a plain deploy promotes it."
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(help="Existing execution role ARN (default: create slpack-FUNCTION-role)."),
    ] = None,
    alarm_topic_arn: Annotated[
        str | None, typer.Option(help="SNS topic the alarms notify.")
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for another deploy of the same function to finish (default: "
            "stop at once and say who holds it)."
        ),
    ] = 0,
    reserved_concurrency: Annotated[
        int | None,
        typer.Option(
            help="Cap on concurrent executions (default: 10 with --url public, else left as it is)."
        ),
    ] = None,
    snapstart: Annotated[
        bool,
        typer.Option(
            "--snapstart",
            help="Lambda SnapStart: snapshot each published version with the model loaded and "
            "primed (Python 3.12+).",
        ),
    ] = False,
    signing_profile: Annotated[
        str | None,
        typer.Option(
            help="AWS Signer signing profile version ARN: sign function.zip (and the layer) with "
            "it and make Lambda refuse unsigned code; the bucket needs versioning.",
        ),
    ] = None,
    endpoint_url: Annotated[str | None, ENDPOINT] = None,
    dry_run: Annotated[bool, DRY_RUN] = False,
) -> None:
    """Deploy BUNDLE to AWS Lambda: upload, publish a version, move the live alias, set up the URL
    and alarms."""
    from slpack.deploy import DeployOptions
    from slpack.deploy import deploy as run_deploy

    options = DeployOptions(
        bucket=bucket,
        region=region,
        endpoint_url=endpoint_url,
        function_name=function_name,
        layer=layer,
        python=python,
        arch=arch,
        memory_mb=memory,
        timeout_s=timeout,
        url=url,  # type: ignore[arg-type]
        canary=canary,
        role=role,
        alarm_topic_arn=alarm_topic_arn,
        snapstart=snapstart,
        wait_s=wait,
        reserved_concurrency=reserved_concurrency,
        signing_profile=signing_profile,
    )
    if url == "public":
        _err.print(
            "[yellow]warning:[/] --url public lets anyone call the model without signing; its "
            f"concurrency is capped at {reserved_concurrency or 10} (--reserved-concurrency)."
        )
    with _err.status("reading what is deployed") as spinner:

        def show(plan: Plan) -> None:
            spinner.stop()
            _show_plan(plan, "deploy")

        outcome = run_deploy(bundle, options, dry_run=dry_run, on_plan=show, on_step=_show_step)
    _finish(outcome, dry_run)


@app.command()
def rollback(
    name: Annotated[str, FUNCTION],
    to: Annotated[
        str | None, typer.Option(help="Version to move live to (default: the one before).")
    ] = None,
    region: Annotated[str | None, REGION] = None,
    endpoint_url: Annotated[str | None, ENDPOINT] = None,
    dry_run: Annotated[bool, DRY_RUN] = False,
) -> None:
    """Move the live alias back to the previous version (or end a canary)."""
    from slpack.deploy import rollback as run_rollback

    outcome = run_rollback(
        name,
        region=region,
        endpoint_url=endpoint_url,
        to=to,
        dry_run=dry_run,
        on_plan=lambda plan: _show_plan(plan, "rollback"),
        on_step=_show_step,
    )
    _finish(outcome, dry_run)


@app.command()
def status(
    name: Annotated[str, FUNCTION],
    region: Annotated[str | None, REGION] = None,
    endpoint_url: Annotated[str | None, ENDPOINT] = None,
) -> None:
    """Show a function's versions, live traffic, URL and alarms."""
    from slpack.deploy import status as read_status
    from slpack.deploy.report import status_report

    Console(highlight=False).print(
        status_report(read_status(name, region=region, endpoint_url=endpoint_url))
    )


def _show_plan(plan: Plan, title: str) -> None:
    from slpack.deploy.report import plan_table

    _err.print(plan_table(plan, title))


def _show_step(step: Step) -> None:
    _err.print(Text.assemble((step.action, "bold"), f" {step.resource} {step.name}"))


def _finish(outcome: Outcome, dry_run: bool) -> None:
    """Say what happened; print the URL (or the live version) on stdout."""
    if dry_run:
        _err.print("dry run: nothing was changed.")
        return
    fn, version, url = (
        outcome.plan.function_name,
        outcome.outputs.get("version"),
        outcome.outputs.get("url"),
    )
    live = outcome.outputs.get("live", version)  # read back from AWS after applying
    canary = outcome.outputs.get("canary") or {}
    done = "done" if outcome.plan.changes else "already up to date"
    if live == version:
        _err.print(f"{done}: {fn} version {version} is live" + (f" at {url}" if url else ""))
    elif version in canary:
        _err.print(
            f"{done}: {fn} version {version} is the canary ({canary[version]:.0%}), version "
            f"{live} keeps the rest of live's traffic; deploy again without --canary to promote "
            "it, or slpack rollback to end it"
        )
    else:
        _err.print(
            f"{done}, but live is on version {live} now, not {version}: another command moved it "
            "since; see slpack status"
        )
    typer.echo(url or live)
