"""``slpack render BUNDLE --target ...``: (re-)render deployment templates for a built bundle."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from slpack.cli import app, options
from slpack.errors import SlpackError
from slpack.render import TARGETS

_DEPLOY_COMMANDS = {
    "sam": "sam deploy --guided",
    "serverless": "serverless deploy",
    "terraform": "terraform init && terraform apply",
    "gcp": "gcloud run deploy --function (the full command is in README.md)",
    "azure": "func azure functionapp publish (the full command is in README.md)",
}


def _thresholds(pairs: list[str]) -> dict[str, float | None]:
    """``NAME=VALUE`` or ``NAME=off`` pairs for :class:`slpack.alarms.AlarmThresholds`."""
    out: dict[str, float | None] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        try:
            out[name.strip().replace("-", "_")] = (
                None if raw.strip().lower() == "off" else float(raw)
            )
        except ValueError:
            raise SlpackError(
                f"--alarm {pair!r} should be NAME=NUMBER or NAME=off, e.g. --alarm "
                "latency_p99_ms=500."
            ) from None
    return out


@app.command()
def render(
    bundle: Annotated[
        Path, typer.Argument(help="Bundle folder written by slpack build (dist/NAME).")
    ],
    target: Annotated[
        str, typer.Option(help=f"Targets, comma-separated: {', '.join(TARGETS)}.")
    ] = "sam",
    function_name: Annotated[
        str | None, typer.Option(help="Function name (default: the bundle's name).")
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="Layer zip from slpack layer, or an existing layer version ARN."),
    ] = None,
    python: options.Python = None,
    arch: options.Arch = None,
    memory: options.Memory = 1024,
    timeout: options.Timeout = 30,
    reserved_concurrency: Annotated[
        int | None, typer.Option(help="Cap on concurrent executions.")
    ] = None,
    provisioned_concurrency: Annotated[
        int,
        typer.Option(
            help="Pre-initialised environments on the live alias (also loads the model at init)."
        ),
    ] = 0,
    snapstart: Annotated[
        bool,
        typer.Option(
            "--snapstart",
            help="Lambda SnapStart: snapshot each published version with the model loaded and "
            "primed (Python 3.12+, not with provisioned concurrency).",
        ),
    ] = False,
    signing_profile: Annotated[
        str | None,
        typer.Option(
            help="AWS Signer signing profile version ARN: Lambda then runs only code and layers "
            "it signed (sam and terraform; docs/templates.md).",
        ),
    ] = None,
    log_retention_days: Annotated[
        int, typer.Option(help="CloudWatch Logs retention in days.")
    ] = 365,
    tracing: Annotated[bool, typer.Option(help="X-Ray active tracing.")] = True,
    endpoint: Annotated[
        str, typer.Option(help="url (Lambda Function URL), http-api (API Gateway) or none.")
    ] = "url",
    public: Annotated[
        bool,
        typer.Option(
            "--public", help="No authentication on the endpoint: anyone with the URL can call it."
        ),
    ] = False,
    cors_origin: Annotated[
        list[str] | None, typer.Option("--cors-origin", help="Allowed CORS origin; repeatable.")
    ] = None,
    model_s3: Annotated[
        bool,
        typer.Option(
            "--model-s3",
            help="Fetch the model from S3 at cold start (the template creates the bucket).",
        ),
    ] = False,
    model_bucket: Annotated[
        str | None, typer.Option(help="Fetch the model from this existing S3 bucket.")
    ] = None,
    model_key: Annotated[
        str | None, typer.Option(help="S3 key of the model (default: NAME/VERSION/model.onnx).")
    ] = None,
    deployment: Annotated[
        str,
        typer.Option(
            help="Rollout of each new version, e.g. Canary10Percent5Minutes, "
            "Linear10PercentEvery1Minute, AllAtOnce."
        ),
    ] = "Canary10Percent5Minutes",
    alarm: Annotated[
        list[str] | None,
        typer.Option(
            "--alarm",
            help="Alarm threshold NAME=VALUE or NAME=off; repeatable (see docs/templates.md).",
        ),
    ] = None,
    alarm_topic: Annotated[
        bool, typer.Option("--alarm-topic", help="Create an SNS topic for alarm notifications.")
    ] = False,
    alarm_topic_arn: Annotated[
        str | None, typer.Option(help="Send alarm notifications to this existing SNS topic.")
    ] = None,
    alarm_email: Annotated[
        list[str] | None,
        typer.Option(
            "--alarm-email", help="Subscribe this address to the alarm topic; repeatable."
        ),
    ] = None,
    metrics: Annotated[
        str,
        typer.Option(
            help="Handler metrics sink: emf (on gcp and azure: the platform's structured logs), "
            "log or none."
        ),
    ] = "emf",
    metrics_namespace: Annotated[
        str, typer.Option(help="CloudWatch namespace of the handler's metrics.")
    ] = "slpack",
    log_level: Annotated[str, typer.Option(help="Handler log level.")] = "INFO",
    cache_size: Annotated[int | None, typer.Option(help="Response cache entries (0: off).")] = None,
    cache_ttl: Annotated[
        int | None, typer.Option(help="Response cache entry lifetime in seconds.")
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option(help="Largest request body accepted.")
    ] = None,
    max_batch: Annotated[int | None, typer.Option(help="Most instances per request.")] = None,
    max_string_length: Annotated[
        int | None, typer.Option(help="Longest string value accepted.")
    ] = None,
) -> None:
    """Render deployment templates into BUNDLE/deploy/<target>/, ready for the target's own deploy
    tool."""
    from slpack.alarms import AlarmThresholds
    from slpack.render import RenderOptions, RenderWarning
    from slpack.render import render as render_bundle

    try:
        thresholds = AlarmThresholds().with_overrides(_thresholds(alarm or []))
    except KeyError as exc:
        raise SlpackError(
            f"unknown alarm {exc.args[0]}; choose from {', '.join(AlarmThresholds.names())}."
        ) from None
    options = RenderOptions(
        function_name=function_name,
        layer=layer,
        python=python,
        arch=arch,
        memory_mb=memory,
        timeout_s=timeout,
        reserved_concurrency=reserved_concurrency,
        provisioned_concurrency=provisioned_concurrency,
        snapstart=snapstart,
        signing_profile=signing_profile,
        log_retention_days=log_retention_days,
        tracing=tracing,
        endpoint=endpoint,  # type: ignore[arg-type]
        public=public,
        cors_origins=tuple(cors_origin or ()),
        model_s3=model_s3,
        model_bucket=model_bucket,
        model_key=model_key,
        deployment=deployment,
        thresholds=thresholds,
        alarm_topic=alarm_topic,
        alarm_topic_arn=alarm_topic_arn,
        alarm_emails=tuple(alarm_email or ()),
        metrics=metrics,
        metrics_namespace=metrics_namespace,
        log_level=log_level,
        cache_size=cache_size,
        cache_ttl_s=cache_ttl,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        max_string_length=max_string_length,
    )
    targets = [t.strip() for t in target.split(",") if t.strip()]
    err = Console(stderr=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RenderWarning)
        written = render_bundle(bundle, targets, options)
    for w in caught:
        if issubclass(w.category, RenderWarning):
            err.print(f"[yellow]warning:[/] {w.message}")
    table = Table(title=f"rendered {bundle}", show_lines=False)
    table.add_column("target")
    table.add_column("files")
    table.add_column("deploy with")
    for t in dict.fromkeys(targets):
        files = [p.name for p in written if p.parent.name == t]
        folder, command = bundle / "deploy" / t, _DEPLOY_COMMANDS.get(t)
        table.add_row(
            t,
            ", ".join(files),
            f"cd {folder} && {command}" if command else f"see {folder / 'README.md'}",
        )
    err.print(table)
