"""What a deployment looks like: every knob, with the safe choice as its default.

Defaults give a private (IAM-authenticated) Function URL on the ``live`` alias, 1024 MB, a
canary rollout gated by the rollback alarms, X-Ray tracing, and a year of log retention.
Anything less safe (a public endpoint) has to be asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from slpack.alarms import AlarmThresholds
from slpack.errors import SlpackError

Endpoint = Literal["url", "http-api", "none"]

# An AWS Signer signing profile version: what a code signing configuration allows.
SIGNING_PROFILE_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:signer:[a-z0-9-]+:\d{12}:/signing-profiles/(?P<name>[A-Za-z0-9_]{2,64})"
    r"/[A-Za-z0-9]+$"
)

# The Lambda Python runtimes AWS still lets you create functions on (python3.9 was deprecated in
# December 2025); each has a layer target in slpack.layer.target.LAMBDA_RUNTIMES.
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
ARCHES = ("x86_64", "arm64")

# The architecture when neither --arch nor a layer says. A bundle on the python runtime ships no
# native code, so it takes arm64: Lambda bills Graviton about 20% less per GB-second, and the
# pure-Python request path runs at least as fast there. A bundle on onnxruntime must match its
# numpy + onnxruntime layer, so it takes what ``slpack layer`` builds by default (x86_64): a layer
# and a function made with the defaults then fit each other (docs/deploy.md: choosing arm64).
DEFAULT_ARCH = "x86_64"
LAYERLESS_ARCH = "arm64"

# SAM's DeploymentPreference types; serverless maps them onto CodeDeployDefault.Lambda<Type>.
DEPLOYMENT_TYPES = (
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
)

# The values CloudWatch Logs accepts for RetentionInDays.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# A public endpoint's cap unless --reserved-concurrency says otherwise: anyone can call it, and
# without a cap a flood takes the whole account's concurrency (1,000 by default) from every other
# function in the region and bills for all of it. Ten environments answer a few hundred
# single-row predictions per second (one takes milliseconds) and cost at most about $0.60 an hour
# at 1 GB on x86_64, whatever the flood.
PUBLIC_RESERVED_CONCURRENCY = 10

LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous invocations (URL, HTTP API) carry at most 6 MB
HTTP_API_TIMEOUT_S = 30  # API Gateway HTTP APIs give up on an integration after 30 s


@dataclass(frozen=True)
class RenderOptions:
    """Options for :func:`slpack.render.render`; every field has a safe default."""

    function_name: str | None = None  # default: the bundle's name
    layer: str | None = None  # layer zip from `slpack layer`, or an existing layer version ARN
    python: str | None = None  # default: the layer's, else 3.12
    arch: str | None = None  # default: the layer's; else arm64 without a layer, x86_64 with one
    memory_mb: int = 1024
    timeout_s: int = 30
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0  # > 0 also sets SLPACK_EAGER=1 (load during init)
    snapstart: bool = False  # Lambda SnapStart on published versions (Python 3.12 and later)
    # AWS Signer profile version ARN: Lambda then runs only code (and layers) it signed
    signing_profile: str | None = None
    log_retention_days: int = 365
    tracing: bool = True  # X-Ray active tracing: init and invocation segments per request

    endpoint: Endpoint = "url"
    public: bool = False  # no authentication at all on the endpoint; must be asked for
    cors_origins: tuple[str, ...] = ()

    model_s3: bool = False  # fetch the model from S3 at cold start instead of function.zip
    model_bucket: str | None = None  # an existing bucket (implies model_s3); else one is created
    model_key: str | None = None  # default: "<name>/<version>/model.onnx"

    deployment: str = "Canary10Percent5Minutes"
    thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    alarm_topic: bool = False  # create an SNS topic for alarm notifications
    alarm_topic_arn: str | None = None  # or notify an existing topic
    alarm_emails: tuple[
        str, ...
    ] = ()  # e-mail subscriptions to the created topic (implies alarm_topic)

    # Handler environment (docs/handler.md); None keeps the handler's default.
    metrics: str = "emf"
    metrics_namespace: str = "slpack"
    log_level: str = "INFO"
    cache_size: int | None = None
    cache_ttl_s: int | None = None
    max_body_bytes: int | None = None
    max_batch: int | None = None
    max_string_length: int | None = None

    @property
    def uses_s3_model(self) -> bool:
        return self.model_s3 or self.model_bucket is not None

    @property
    def creates_topic(self) -> bool:
        return self.alarm_topic or bool(self.alarm_emails)

    @property
    def signing_profile_name(self) -> str | None:
        """The signing profile's name, which signing jobs (and ``sam deploy``) take."""
        found = SIGNING_PROFILE_ARN.match(self.signing_profile or "")
        return found["name"] if found else None

    def validate(self) -> None:
        """Raise :class:`SlpackError` naming the first option that cannot be deployed."""
        checks: list[tuple[bool, str]] = [
            (
                self.python is None or self.python in PYTHONS,
                f"--python must be one of {', '.join(PYTHONS)}.",
            ),
            (
                self.arch is None or self.arch in ARCHES,
                f"--arch must be one of {', '.join(ARCHES)}.",
            ),
            (128 <= self.memory_mb <= 10240, "--memory must be between 128 and 10240 MB."),
            (1 <= self.timeout_s <= 900, "--timeout must be between 1 and 900 seconds."),
            (
                self.endpoint != "http-api" or self.timeout_s <= HTTP_API_TIMEOUT_S,
                f"--timeout must be at most {HTTP_API_TIMEOUT_S} seconds behind an HTTP API "
                "(its integration limit).",
            ),
            (
                self.reserved_concurrency is None or self.reserved_concurrency >= 1,
                "--reserved-concurrency must be at least 1.",
            ),
            (
                self.provisioned_concurrency >= 0,
                "--provisioned-concurrency must be 0 (off) or more.",
            ),
            (
                self.reserved_concurrency is None
                or self.provisioned_concurrency <= self.reserved_concurrency,
                "--provisioned-concurrency cannot exceed --reserved-concurrency.",
            ),
            (
                not (self.snapstart and self.provisioned_concurrency),
                "--snapstart and --provisioned-concurrency cannot be combined (Lambda refuses "
                "both on one function); keep one of them (docs/deploy.md compares the two).",
            ),
            (
                self.log_retention_days in LOG_RETENTION_DAYS,
                "--log-retention-days must be one of CloudWatch's values: "
                f"{', '.join(map(str, LOG_RETENTION_DAYS))}.",
            ),
            (
                self.endpoint in ("url", "http-api", "none"),
                "--endpoint must be url, http-api or none.",
            ),
            (
                not self.public or self.endpoint != "none",
                "--public needs an endpoint (--endpoint url or http-api).",
            ),
            (
                not self.cors_origins or self.endpoint != "none",
                "--cors-origin needs an endpoint (--endpoint url or http-api).",
            ),
            (
                self.deployment in DEPLOYMENT_TYPES,
                f"--deployment must be one of {', '.join(DEPLOYMENT_TYPES)}.",
            ),
            (
                not (self.alarm_topic_arn and self.creates_topic),
                "give either --alarm-topic-arn (an existing topic) or --alarm-topic/--alarm-email "
                "(a new one), not both.",
            ),
            (
                self.alarm_topic_arn is None or self.alarm_topic_arn.startswith("arn:"),
                "--alarm-topic-arn must be an SNS topic ARN.",
            ),
            (self.metrics in ("emf", "log", "none"), "--metrics must be emf, log or none."),
            (
                self.max_body_bytes is None or 1 <= self.max_body_bytes <= LAMBDA_PAYLOAD_LIMIT,
                f"--max-body-bytes must be between 1 and {LAMBDA_PAYLOAD_LIMIT} (Lambda's "
                "synchronous payload limit).",
            ),
            (
                all(v is None or v >= 0 for v in (self.cache_size, self.cache_ttl_s)),
                "--cache-size and --cache-ttl cannot be negative.",
            ),
            (
                all(v is None or v >= 1 for v in (self.max_batch, self.max_string_length)),
                "--max-batch and --max-string-length must be at least 1.",
            ),
            (
                self.signing_profile is None or self.signing_profile_name is not None,
                "--signing-profile must be a signing profile version ARN "
                "(arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME/VERSION; aws signer "
                "get-signing-profile shows it as profileVersionArn).",
            ),
            (
                self.model_key is None or self.uses_s3_model,
                "--model-key needs --model-s3 or --model-bucket.",
            ),
            (
                self.model_key is None or not self.model_key.startswith("/"),
                "--model-key is an S3 key: drop the leading '/'.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise SlpackError(message)
