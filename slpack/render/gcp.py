"""The Google Cloud Run functions target: ``deploy/gcp/``, the source folder ``gcloud run deploy
--function`` takes.

``main.py`` (entry point ``predict``), ``slpack_handler/``, ``model/``, ``requirements.txt`` and
``env.yaml`` (the handler's settings, metrics as Cloud Logging structured entries);
``README.md`` holds the exact deploy command: Cloud Run functions are created through Cloud Run
now (``gcloud run deploy NAME --source . --function predict --base-image python312``), which
builds the source on Google's base image. ``terraform/`` deploys the same source as a
reproducible zip in a private bucket, with a dedicated service account and log-based metrics,
through ``google_cloudfunctions2_function``: its API builds the uploaded source server-side into
the same kind of Cloud Run service, whereas the Cloud Run v2 service resource's ``build_config``
only records how an image was built and still needs that image built beforehand.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from slpack import ziputil
from slpack.deployment import Deployment
from slpack.errors import SlpackError
from slpack.render import drift, source
from slpack.render.suppressions import skips
from slpack.render.templating import write

ENTRY_POINT = "predict"
# the example region in README.md and Terraform's default; any Cloud Run functions region works
REGION = "us-central1"
FUNCTIONS_FRAMEWORK = "functions-framework>=3.5"
# Cloud Run's CPU for a memory size: 1 vCPU takes 512 MiB to 4 GiB, 2 up to 8 GiB, 4 up to 16 GiB.
CPU_FOR_MEMORY_MB = ((4096, 1), (8192, 2), (16384, 4))
MIN_MEMORY_MB = 512
SOURCE_FILES = (
    "main.py",
    "requirements.txt",
)  # beside slpack_handler/ and model/: all the platform builds


def render(d: Deployment, out_dir: Path) -> list[Path]:
    if d.options.memory_mb < MIN_MEMORY_MB:
        raise SlpackError(
            f"--memory must be at least {MIN_MEMORY_MB} MB for Cloud Run functions (one vCPU "
            "needs it); render the gcp target with --memory 512 or more."
        )
    source.warn_unsupported(d, "gcp")
    name = source.resource_name(d.function_name, 63)
    env = source.platform_environment(d, "gcp")
    entries = source.source_entries(d)
    written = source.copy_entries(entries, out_dir)
    written.append(write("gcp/main.py.j2", out_dir / "main.py", d=d, entry_point=ENTRY_POINT))
    requirements_txt = out_dir / "requirements.txt"
    requirements_txt.write_text(source.requirements(d, FUNCTIONS_FRAMEWORK), encoding="utf-8")
    env_file = out_dir / "env.yaml"
    env_file.write_text(
        yaml.safe_dump(env, sort_keys=True, default_flow_style=False), encoding="utf-8"
    )
    written += [requirements_txt, env_file, write("gcp/gcloudignore.j2", out_dir / ".gcloudignore")]

    tf_dir = out_dir / "terraform"
    tf_dir.mkdir()
    archive = tf_dir / "source.zip"
    sha = ziputil.write_zip(archive, files={**entries, **{f: out_dir / f for f in SOURCE_FILES}})
    context: dict[str, Any] = {
        "d": d,
        "o": d.options,
        "name": name,
        "region": REGION,
        "entry_point": ENTRY_POINT,
        "runtime": runtime(d),
        "environment": env,
        "source_object": f"{name}/source-{sha[:16]}.zip",
        "skips": _skips(d),
        "metrics": log_metrics(name),
    }
    written += [
        write(f"gcp/terraform/{f}.j2", tf_dir / f, **context)
        for f in ("main.tf", "function.tf", "monitoring.tf", "outputs.tf")
    ]
    written += drift.write_drift(
        "gcp", drift.gcp_context(d, name, entries_filter(name)), tf_dir, d=d, name=name
    )
    written.append(archive)
    command = shlex.join(deploy_command(d, name))
    written.append(
        write(
            "gcp/README.md.j2",
            out_dir / "README.md",
            d=d,
            name=name,
            command=command,
            region=REGION,
            runtime=runtime(d),
            metrics=log_metrics(name),
            environment=env,
        )
    )
    return written


def runtime(d: Deployment) -> str:
    """Cloud Run functions' runtime id (and base image) for the deployment's Python
    (``python312``)."""
    return "python" + d.python.replace(".", "")


def deploy_command(d: Deployment, name: str) -> list[str]:
    """``gcloud run deploy --function`` with every setting the rendered options fix, run from
    deploy/gcp.

    One request per instance (``--concurrency=1``), as on Lambda and as the Terraform function
    (whose default it is): the handler answers one request at a time, and Cloud Run scales out.
    """
    o = d.options
    cpu = next(cpu for limit, cpu in CPU_FOR_MEMORY_MB if o.memory_mb <= limit)
    args = [
        "gcloud",
        "run",
        "deploy",
        name,
        "--source=.",
        f"--function={ENTRY_POINT}",
        f"--base-image={runtime(d)}",
        f"--region={REGION}",
        "--allow-unauthenticated" if o.public else "--no-allow-unauthenticated",
        f"--cpu={cpu}",
        f"--memory={o.memory_mb}Mi",
        "--concurrency=1",
        f"--timeout={o.timeout_s}s",
        "--env-vars-file=env.yaml",
    ]
    if o.provisioned_concurrency:
        args.append(f"--min-instances={o.provisioned_concurrency}")
    if o.reserved_concurrency:
        args.append(f"--max-instances={o.reserved_concurrency}")
    return args


def entries_filter(name: str) -> str:
    """The Cloud Logging filter of the function's metric records."""
    return (
        f'resource.type="cloud_run_revision" AND resource.labels.service_name="{name}" '
        'AND jsonPayload.message="slpack metrics"'
    )


def log_metrics(name: str) -> list[dict[str, Any]]:
    """Log-based metrics over the handler's Cloud Logging entries: the Cloud Monitoring view of the
    same record CloudWatch reads from EMF, labelled by model version."""
    base = entries_filter(name)
    return [
        {
            "key": "latency",
            "field": "TotalMs",
            "kind": "DISTRIBUTION",
            "unit": "ms",
            "filter": base,
            "description": "Time the handler spent on each request (TotalMs)",
        },
        {
            "key": "inference",
            "field": "InferenceMs",
            "kind": "DISTRIBUTION",
            "unit": "ms",
            "filter": base + " AND jsonPayload.metrics.InferenceMs>=0",
            "description": "onnxruntime time per answered batch (InferenceMs)",
        },
        {
            "key": "errors",
            "field": None,
            "kind": "DELTA",
            "unit": "1",
            "filter": base + " AND jsonPayload.metrics.Errors=1",
            "description": "Requests answered 5xx (Errors)",
        },
        {
            "key": "validation_errors",
            "field": None,
            "kind": "DELTA",
            "unit": "1",
            "filter": base + " AND jsonPayload.metrics.ValidationErrors=1",
            "description": "Requests answered 4xx (ValidationErrors)",
        },
        {
            "key": "cold_starts",
            "field": None,
            "kind": "DELTA",
            "unit": "1",
            "filter": base + " AND jsonPayload.metrics.ColdStart=1",
            "description": "Instances that started (ColdStart)",
        },
    ]


def _skips(d: Deployment) -> dict[str, Any]:
    return {
        "bucket": skips("CKV_GCP_62"),
        "function": skips("CKV_GCP_124"),
        "public": skips("CKV_GCP_102") if d.options.public else (),
    }
