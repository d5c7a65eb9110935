"""The Azure Functions target: ``deploy/azure/``, a Python v2 programming-model app for ``func``.

``function_app.py`` registers the HTTP routes (POST ``/api/predict``, GET ``/api/metadata`` and
``/api/health``) on the one handler core; ``host.json`` sets the timeout, the extension bundle
and the logging that keeps every metric record; ``requirements.txt`` is azure-functions plus
the slim runtime. ``README.md`` holds the exact ``func azure functionapp publish`` command;
``terraform/`` creates the app with its storage account, Application Insights and Log Analytics
on the Flex Consumption plan by default (Linux Consumption, which retires in September 2028 and
gets no new Python versions, and Elastic Premium stay selectable with ``-var sku_name``). On Flex
Consumption the app is then published with ``func`` (a remote build of requirements.txt); on the
other plans Terraform deploys a reproducible zip of the same folder with a remote build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slpack import ziputil
from slpack.deployment import Deployment
from slpack.errors import SlpackError
from slpack.render import drift, source
from slpack.render.suppressions import Skip, skips
from slpack.render.templating import write

LOCATION = "westeurope"  # the example location in README.md and Terraform's default
HTTP_TIMEOUT_S = (
    230  # Azure's front end ends any HTTP request after 230 s, whatever functionTimeout says
)
ROUTES = {"predict": ("POST",), "metadata": ("GET", "HEAD"), "health": ("GET", "HEAD")}
APP_FILES = (
    "function_app.py",
    "host.json",
    "requirements.txt",
)  # beside slpack_handler/ and model/
# Flex Consumption's instance sizes: the smallest that holds --memory (Lambda's 1024 MB default
# gets 2048).
FLEX_MEMORY_MB = (2048, 4096)
LOG_RETENTION_DAYS = (
    30,
    730,
)  # what a Log Analytics workspace accepts (beyond the free 31 days is billed)


def render(d: Deployment, out_dir: Path) -> list[Path]:
    if d.options.timeout_s > HTTP_TIMEOUT_S:
        raise SlpackError(
            f"--timeout must be at most {HTTP_TIMEOUT_S} seconds for Azure Functions: "
            "its front end ends HTTP requests then."
        )
    source.warn_unsupported(d, "azure")
    name = source.resource_name(d.function_name, 60)
    env = source.platform_environment(d, "azure")
    entries = source.source_entries(d)
    written = source.copy_entries(entries, out_dir)
    auth_level = "ANONYMOUS" if d.options.public else "FUNCTION"
    written.append(
        write(
            "azure/function_app.py.j2",
            out_dir / "function_app.py",
            d=d,
            auth_level=auth_level,
            routes=ROUTES,
        )
    )
    texts = {
        "host.json": _json(host_json(d)),
        "requirements.txt": source.requirements(d, "azure-functions>=1.18"),
        "local.settings.json.example": _json(local_settings(env)),
    }
    for file_name, text in texts.items():
        (out_dir / file_name).write_text(text, encoding="utf-8")
        written.append(out_dir / file_name)
    written.append(write("azure/funcignore.j2", out_dir / ".funcignore"))

    tf_dir = out_dir / "terraform"
    tf_dir.mkdir()
    staging = tf_dir / "app.zip"
    sha = ziputil.write_zip(staging, files={**entries, **{f: out_dir / f for f in APP_FILES}})
    archive = staging.rename(
        tf_dir / f"app-{sha[:16]}.zip"
    )  # a new name per content: Terraform redeploys on change
    low, high = LOG_RETENTION_DAYS
    context: dict[str, Any] = {
        "d": d,
        "o": d.options,
        "name": name,
        "location": LOCATION,
        "environment": env,
        "archive": archive.name,
        "retention_days": min(max(d.options.log_retention_days, low), high),
        "flex_memory_mb": next(
            (size for size in FLEX_MEMORY_MB if d.options.memory_mb <= size), FLEX_MEMORY_MB[-1]
        ),
        "skips": _skips(),
    }
    written += [
        write(f"azure/terraform/{f}.j2", tf_dir / f, **context)
        for f in ("main.tf", "function.tf", "outputs.tf")
    ]
    written += drift.write_drift("azure", drift.azure_context(d), tf_dir, d=d)
    written.append(archive)
    written.append(
        write(
            "azure/README.md.j2",
            out_dir / "README.md",
            d=d,
            name=name,
            command=publish_command(name),
            location=LOCATION,
            environment=env,
            routes=ROUTES,
            flex_memory_mb=context["flex_memory_mb"],
        )
    )
    return written


def publish_command(name: str) -> str:
    """Core Tools' deploy command, run from deploy/azure (a remote build installs
    requirements.txt)."""
    return f"func azure functionapp publish {name} --python"


def host_json(d: Deployment) -> dict[str, Any]:
    """host.json: the timeout, the extension bundle, and logging that keeps every metric record.

    The metric records are traces of the ``Function.<name>.User`` category, so traces are excluded
    from Application Insights sampling (counts stay exact) while the host's per-invocation
    "Executing/Executed" traces are filtered out (the requests table has them already).
    """
    user = {f"Function.{route}.User": "Information" for route in ROUTES}
    return {
        "version": "2.0",
        "functionTimeout": _duration(d.options.timeout_s),
        "extensionBundle": {
            "id": "Microsoft.Azure.Functions.ExtensionBundle",
            "version": "[4.*, 5.0.0)",
        },
        "extensions": {"http": {"routePrefix": "api"}},
        "logging": {
            "logLevel": {"default": "Information", "Function": "Warning", **user},
            "applicationInsights": {
                "samplingSettings": {"isEnabled": True, "excludedTypes": "Request;Trace"}
            },
        },
    }


def local_settings(env: dict[str, str]) -> dict[str, Any]:
    """local.settings.json for ``func start`` (HTTP triggers need no storage locally)."""
    return {
        "IsEncrypted": False,
        "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsStorage": "", **env},
    }


def _duration(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2) + "\n"


def _skips() -> dict[str, tuple[Skip, ...]]:
    """The checkov findings each resource accepts: what a serverless plan's host storage and an
    internet-facing HTTP function cannot avoid."""
    return {
        "app": skips("CKV_AZURE_221"),
        "plan": skips("CKV_AZURE_212", "CKV_AZURE_225"),
        "container": skips("CKV2_AZURE_21"),
        "storage": skips(
            "CKV_AZURE_43",
            "CKV_AZURE_59",
            "CKV2_AZURE_33",
            "CKV2_AZURE_40",
            "CKV_AZURE_206",
            "CKV_AZURE_33",
            "CKV2_AZURE_1",
        ),
    }
