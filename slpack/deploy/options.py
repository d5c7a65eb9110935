"""What ``slpack deploy`` is asked to do, settled against the bundle before AWS is asked anything.

The deployment is resolved by :func:`slpack.deployment.resolve`, the same code the SAM,
Serverless and Terraform templates are rendered from: a direct deploy and a template give the
function the same name, runtime, environment and alarms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from slpack.bundler.bundle import read_manifest
from slpack.deploy.verify import verify_bundle, verify_layer
from slpack.deployment import Deployment, resolve
from slpack.deployment.layer import BUNDLED_LAYER_DIR, bundled_layer, runtime_needs_layer
from slpack.deployment.options import RenderOptions
from slpack.errors import SlpackError
from slpack.ziputil import sha256_file

UrlAuth = Literal["iam", "public", "none"]
URL_AUTHS: tuple[UrlAuth, ...] = ("iam", "public", "none")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


@dataclass(frozen=True)
class DeployOptions:
    """The ``slpack deploy`` options; the defaults are the safe choices (a private URL, all at
    once)."""

    bucket: str
    region: str | None = None
    endpoint_url: str | None = None  # another AWS endpoint (moto, LocalStack)
    function_name: str | None = None  # default: the bundle's name
    layer: str | None = (
        None  # layer zip from slpack layer or layer version ARN; default: the manifest's
    )
    python: str | None = None  # default: the layer's, else 3.12
    arch: str | None = None  # default: the layer's; else arm64 without a layer, x86_64 with one
    memory_mb: int = 1024
    timeout_s: int = 30
    url: UrlAuth = "iam"  # Function URL on the live alias: IAM-authenticated, public, or none
    canary: float | None = None  # percent of live's traffic sent to the new version
    role: str | None = None  # existing execution role ARN; default: slpack-<function>-role, created
    alarm_topic_arn: str | None = None  # SNS topic notified by the alarms
    snapstart: bool = False  # Lambda SnapStart on the published versions (Python 3.12+)
    wait_s: float = 0  # how long to wait for another deploy of the function to finish
    reserved_concurrency: int | None = None  # cap; a public URL gets 10 unless this says
    signing_profile: str | None = None  # AWS Signer profile version ARN: sign, and enforce it

    def validate(self) -> None:
        """Raise :class:`SlpackError` naming the first option that cannot work."""
        checks: list[tuple[bool, str]] = [
            (
                bool(_BUCKET.match(self.bucket)),
                f"--bucket {self.bucket!r} is not an S3 bucket name.",
            ),
            (self.url in URL_AUTHS, f"--url must be one of {', '.join(URL_AUTHS)}."),
            (
                self.canary is None or 0 < self.canary < 100,
                "--canary is the percent of traffic for the new version: more than 0 and "
                "less than 100.",
            ),
            (self.wait_s >= 0, "--wait is a number of seconds, 0 or more."),
            (
                self.role is None or bool(_ROLE_ARN.match(self.role)),
                "--role must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME).",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise SlpackError(message)

    def render_options(self, layer: str | None) -> RenderOptions:
        return RenderOptions(
            function_name=self.function_name,
            layer=layer,
            python=self.python,
            arch=self.arch,
            memory_mb=self.memory_mb,
            timeout_s=self.timeout_s,
            endpoint="none" if self.url == "none" else "url",
            public=self.url == "public",
            alarm_topic_arn=self.alarm_topic_arn,
            snapstart=self.snapstart,
            reserved_concurrency=self.reserved_concurrency,
            signing_profile=self.signing_profile,
        )


def resolve_bundle(bundle_dir: Path, options: DeployOptions) -> Deployment:
    """The bundle and the options checked against each other, with the layer settled; the bundle
    and a layer zip verified against their records (:mod:`slpack.deploy.verify`). No AWS call."""
    options.validate()
    manifest: dict[str, Any] = dict(read_manifest(bundle_dir))
    runtime = str((manifest.get("runtime") or {}).get("name") or "")
    if runtime == "sklearn":
        raise SlpackError(
            f"{bundle_dir} runs on the sklearn runtime, whose scikit-learn, scipy and numpy do not "
            "fit the 250 MB of a zip function, and slpack deploy ships zips; render "
            "--target image, push the image and create the function from it."
        )
    layer = layer_for(bundle_dir, options.layer) if runtime_needs_layer(runtime) else options.layer
    d = resolve(bundle_dir, options.render_options(layer))
    verify_bundle(d.bundle_dir, manifest)
    if d.layer is not None and d.layer.path is not None:
        verify_layer(d.layer.path)
    return d


def layer_for(bundle_dir: Path, given: str | None) -> str:
    """For a bundle on onnxruntime: ``--layer`` if given, else the bundle's own layer.

    That is the one ``slpack render --layer`` put inside the bundle (``BUNDLE/layer/``: a zip, or
    ``arn.txt``), else the one ``slpack build --layer dist/layers/X.zip`` recorded in the manifest,
    looked for in ``dist/layers`` beside the bundle and used only if its hash still matches.
    Without a layer the function could not import numpy, so deploying without one is refused.
    """
    if given:
        return given
    inside = bundled_layer(bundle_dir)
    if inside:
        return inside
    recorded = read_manifest(bundle_dir).get("layer") or {}
    name, sha = recorded.get("file"), recorded.get("sha256")
    if name:
        candidate = bundle_dir.resolve().parent / "layers" / str(name)
        if candidate.is_file() and sha256_file(candidate) == sha:
            return str(candidate)
        raise SlpackError(
            f"the bundle was built for the layer {name}, which is neither in "
            f"{bundle_dir / BUNDLED_LAYER_DIR} nor in {candidate.parent} with the same hash; "
            "pass --layer with that zip (slpack layer) or a layer version ARN."
        )
    raise SlpackError(
        "the function needs the numpy + onnxruntime layer; pass --layer with a zip "
        "built by slpack layer "
        "or an existing layer version ARN."
    )
