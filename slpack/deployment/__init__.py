"""What a deployment of one bundle is, resolved once: bundle facts, layer, names, environment,
alarms.

Both ways to ship a bundle read it from here: ``slpack render`` (the SAM, Serverless, Terraform,
image, edge, Cloud Run and Azure targets only translate a :class:`Deployment` into their own
syntax) and ``slpack deploy`` (boto3). Every decision (what the function is called, which runtime
matches the layer, which environment the handler gets, which alarms exist) is made here, so a
template and a direct deploy stay equivalent, and neither side imports the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from slpack.alarms import AlarmSpec, AlarmTarget, alarm_specs
from slpack.bundler.bundle import FUNCTION_ZIP, read_manifest
from slpack.deployment.layer import LAYER_ARN, Layer, resolve_layer, runtime_needs_layer
from slpack.deployment.options import (
    DEFAULT_ARCH,
    LAYERLESS_ARCH,
    PUBLIC_RESERVED_CONCURRENCY,
    RenderOptions,
)
from slpack.drift.sketches import Layout
from slpack.errors import SlpackError
from slpack.ziputil import sha256_file
from slpack_handler.contract import ALIAS, DEFAULT_PYTHON, HANDLER, Env

SNAPSTART_PYTHON = (3, 12)  # Lambda SnapStart covers the Python runtimes from 3.12 on

__all__ = [
    "ALIAS",
    "HANDLER",
    "LAYER_ARN",
    "Deployment",
    "Layer",
    "RenderOptions",
    "function_name_for",
    "resolve",
]


def function_name_for(name: str) -> str:
    """A Lambda function name (``[A-Za-z0-9_-]``, at most 64) from a bundle name."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:64]
    if not cleaned:
        raise SlpackError(f"cannot make a function name from {name!r}; pass --function-name.")
    return cleaned


@dataclass(frozen=True)
class Deployment:
    """The resolved deployment every target renders."""

    bundle_dir: Path
    name: str
    version: str
    model_sha256: str
    function_name: str
    python: str
    arch: str
    layer: Layer | None
    options: RenderOptions
    code_sha256: str  # of function.zip: publishing a version follows it
    model_runtime: str = "onnxruntime"  # what runs the model (the manifest's runtime.name)
    model_filename: str = "model.onnx"  # the file that runtime loads (the manifest's model.file)
    drift: Layout | None = None  # the bins of the manifest's drift baseline (docs/drift.md)

    @property
    def needs_layer(self) -> bool:
        """Whether the function needs the numpy + onnxruntime layer: the python runtime is
        stdlib-only, so its function.zip runs on the bare Lambda runtime."""
        return runtime_needs_layer(self.model_runtime)

    @property
    def runtime_description(self) -> str:
        """What serves the model, for descriptions: ``onnxruntime`` or ``the python runtime``."""
        return "onnxruntime" if self.needs_layer else f"the {self.model_runtime} runtime"

    @property
    def runtime(self) -> str:
        return f"python{self.python}"

    @property
    def function_zip(self) -> Path:
        return self.bundle_dir / FUNCTION_ZIP

    @property
    def model_file(self) -> Path:
        return self.bundle_dir / self.model_filename

    @property
    def model_key(self) -> str:
        """The S3 key of the model: versioned, so a rollback still finds the old model."""
        return self.options.model_key or f"{self.name}/{self.version}/{self.model_filename}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def alias_resource(self) -> str:
        """The ``Resource`` dimension of Lambda's alias metrics."""
        return f"{self.function_name}:{ALIAS}"

    def relative(self, path: Path, target_dir: Path) -> str:
        """``path`` relative to a rendered target folder, with forward slashes (all tools accept
        them)."""
        return Path(os.path.relpath(path, target_dir)).as_posix()

    def cors(self) -> dict[str, Any] | None:
        """CORS for the endpoint, in the AWS API's keys (Function URL and HTTP API take the
        same)."""
        if not self.options.cors_origins:
            return None
        return {
            "AllowOrigins": list(self.options.cors_origins),
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": [
                "content-type",
                "authorization",
                "x-amz-date",
                "x-amz-security-token",
                "x-amz-content-sha256",
            ],
            "MaxAge": 3600,
        }

    def environment(self) -> dict[str, str]:
        """The handler's environment (docs/handler.md), without ``SLPACK_MODEL_URI``.

        The model URI depends on a bucket each target names its own way, so targets add it.
        """
        o = self.options
        env = {
            Env.METRICS: o.metrics,
            Env.METRICS_NAMESPACE: o.metrics_namespace,
            Env.LOG_LEVEL: o.log_level,
            Env.EAGER: "1" if o.provisioned_concurrency else "0",
        }
        optional = {
            Env.CACHE_SIZE: o.cache_size,
            Env.CACHE_TTL_S: o.cache_ttl_s,
            Env.MAX_BODY_BYTES: o.max_body_bytes,
            Env.MAX_BATCH: o.max_batch,
            Env.MAX_STRING_LENGTH: o.max_string_length,
        }
        env.update({k: str(v) for k, v in optional.items() if v is not None})
        return env

    def alarms(self) -> list[AlarmSpec]:
        return alarm_specs(self.options.thresholds, self.drift.prediction if self.drift else None)

    def alarm_target(self) -> AlarmTarget:
        """Where the alarms point: every name is known at render time, so plain strings do."""
        return AlarmTarget(
            function_name=self.function_name,
            alias_resource=self.alias_resource,
            namespace=self.options.metrics_namespace,
        )

    def version_fingerprint(self) -> str:
        """Changes whenever a deploy must publish a new function version (code or configuration)."""
        facts = {
            "code": self.code_sha256,
            "layer": self.layer.reference if self.layer else None,
            "options": asdict(self.options),
            "runtime": self.runtime,
            "arch": self.arch,
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def resolve(bundle_dir: Path, options: RenderOptions) -> Deployment:
    """Check the bundle and the options against each other and settle every derived value."""
    options.validate()
    if options.public and options.reserved_concurrency is None:
        options = replace(options, reserved_concurrency=PUBLIC_RESERVED_CONCURRENCY)
        options.validate()  # provisioned concurrency must still fit under the cap
    manifest = read_manifest(bundle_dir)
    if not (bundle_dir / FUNCTION_ZIP).is_file():
        raise SlpackError(
            f"{bundle_dir} has no {FUNCTION_ZIP}; rebuild the bundle with slpack build."
        )
    try:
        name, version = str(manifest["name"]), str(manifest["version"])
        sha, filename = str(manifest["model"]["sha256"]), str(manifest["model"]["file"])
        model_runtime = str(manifest["runtime"]["name"])
        baseline = manifest.get("baseline")
    except (KeyError, TypeError):
        raise SlpackError(
            f"{bundle_dir}/slpack.json lacks name, version, model or runtime; rebuild the bundle."
        ) from None
    if (
        options.uses_s3_model
        and options.model_bucket is None
        and not (bundle_dir / filename).is_file()
    ):
        raise SlpackError(
            f"{bundle_dir} has no {filename} to upload to the model bucket; rebuild the bundle."
        )
    needs_layer = runtime_needs_layer(model_runtime)
    if options.layer and not needs_layer:
        raise SlpackError(
            f"{bundle_dir} runs its model on the {model_runtime} runtime, which needs no layer; "
            "drop --layer (or rebuild with slpack build --runtime onnxruntime to use one)."
        )
    layer = resolve_layer(options.layer) if options.layer else None
    python = _agree("python", options.python, layer.python if layer else None, DEFAULT_PYTHON)
    default_arch = DEFAULT_ARCH if needs_layer else LAYERLESS_ARCH
    arch = _agree("arch", options.arch, layer.arch if layer else None, default_arch)
    if options.snapstart and tuple(map(int, python.split("."))) < SNAPSTART_PYTHON:
        raise SlpackError(
            f"--snapstart needs Python {'.'.join(map(str, SNAPSTART_PYTHON))} or later, and this "
            f"deployment runs python{python}; use a layer built with slpack layer --python 3.12 "
            "(or later), or drop --snapstart."
        )
    return Deployment(
        bundle_dir=bundle_dir.resolve(),
        name=name,
        version=version,
        model_sha256=sha,
        function_name=function_name_for(options.function_name or name),
        python=python,
        arch=arch,
        layer=layer,
        options=options,
        code_sha256=sha256_file(bundle_dir / FUNCTION_ZIP),
        model_runtime=model_runtime,
        model_filename=filename,
        drift=Layout(name, version, baseline, str(bundle_dir)) if baseline else None,
    )


def _agree(what: str, asked: str | None, layer_value: str | None, default: str) -> str:
    """The runtime must match the layer: take the layer's value, refuse a contradicting option."""
    if asked and layer_value and asked != layer_value:
        raise SlpackError(
            f"--{what} {asked} does not match the layer (built for {layer_value}); "
            f"rebuild the layer with slpack layer --{what} {asked}."
        )
    return asked or layer_value or default
