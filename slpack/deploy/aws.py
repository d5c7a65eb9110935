"""The one door to AWS: boto3 clients, and AWS's failures turned into one sentence each.

boto3 is an optional dependency (the ``deploy`` extra), imported only here and only when a
deploy, rollback or status command runs, so ``slpack build`` never needs it. Every client gets
botocore's ``standard`` retry mode: throttling and transient errors are retried with backoff
before anything reaches the user, and what still fails is translated by :func:`aws_errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeVar

from slpack.errors import SlpackError

Service = Literal["s3", "lambda", "iam", "logs", "cloudwatch", "sts", "signer"]
T = TypeVar("T")

MAX_ATTEMPTS = 5  # botocore standard mode: exponential backoff with jitter, throttling-aware
PERMISSIONS_DOC = "docs/deploy.md"

_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "403",
}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "RequestThrottledException",
}


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise SlpackError(
            "deploying needs boto3; install it with pip install 'slpack[deploy]'."
        ) from None
    return boto3


@dataclass
class Aws:
    """boto3 clients for one region (and endpoint), created on first use and shared."""

    region: str
    endpoint_url: str | None
    session: Any = field(repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: Service) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
                user_agent_extra="slpack",
            )
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=config
            )
        return self._clients[service]

    @cached_property
    def identity(self) -> dict[str, str]:
        """The caller's account and ARN (one STS call, which also proves the credentials work)."""
        return self.client("sts").get_caller_identity()  # type: ignore[no-any-return]

    @property
    def account(self) -> str:
        return self.identity["Account"]

    @property
    def partition(self) -> str:
        return self.identity["Arn"].split(":")[1]  # arn:<partition>:sts::<account>:...


def connect(region: str | None = None, endpoint_url: str | None = None) -> Aws:
    """Clients for ``region`` (default: the AWS configuration's), talking to ``endpoint_url`` if
    given."""
    boto3 = _boto3()
    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise SlpackError("no AWS region is set; pass --region or set AWS_DEFAULT_REGION.")
    return Aws(region=session.region_name, endpoint_url=endpoint_url, session=session)


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_missing(exc: Exception) -> bool:
    """Whether a read failed because the thing does not exist (each service says it its own way)."""
    return error_code(exc) in {
        "ResourceNotFoundException",
        "NoSuchEntity",
        "404",
        "NotFound",
        "NoSuchKey",
    }


def unless_missing(read: Callable[[], T]) -> T | None:
    """``read()``, or None when what it reads does not exist; any other failure propagates."""
    try:
        return read()
    except Exception as exc:
        if is_missing(exc):
            return None
        raise


def translate(exc: Exception) -> SlpackError | None:
    """The user's sentence for an AWS failure, or None when it is not one we can explain."""
    from botocore import exceptions as bx

    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return SlpackError(
            "no AWS credentials were found; run aws configure (or aws sso login), "
            "or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        )
    if isinstance(exc, bx.EndpointConnectionError):
        return SlpackError(
            f"cannot reach AWS at {exc.kwargs.get('endpoint_url', 'its endpoint')}; check "
            "the network or --endpoint-url."
        )
    if isinstance(exc, bx.WaiterError):
        return _failed_function(exc)
    if not isinstance(exc, bx.ClientError):
        return None
    code, operation = error_code(exc), exc.operation_name
    message = str(exc.response.get("Error", {}).get("Message") or "").rstrip(".")
    if code in _DENIED:
        return SlpackError(
            f"AWS denied {operation}{f' ({message})' if message else ''}; give the identity "
            "you deploy with "
            f"the permissions listed in {PERMISSIONS_DOC}."
        )
    if code in _BAD_CREDENTIALS:
        return SlpackError(
            f"AWS rejected the credentials ({message or code}); refresh them (aws sso "
            "login or aws configure) and try again."
        )
    if code in _THROTTLED:
        return SlpackError(
            f"AWS kept throttling {operation} after {MAX_ATTEMPTS} attempts; wait a minute "
            "and run the "
            "command again (it picks up where it stopped)."
        )
    if code == "NoSuchBucket":
        return SlpackError(
            f"the S3 bucket does not exist ({operation}); create it or pass an existing "
            "one with --bucket."
        )
    if code == "ResourceConflictException":
        return SlpackError(
            f"the function is busy with another change ({message}); wait for it to finish "
            "and run the command again."
        )
    return SlpackError(f"AWS refused {operation}: {code}: {message}.")


def _failed_function(exc: Exception) -> SlpackError:
    """A Lambda waiter gave up: the function's state or last update says why."""
    last = getattr(exc, "last_response", None) or {}
    config = last.get("Configuration", last)
    name = config.get("FunctionName", "the function")
    if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
        reason = (
            config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
        )
        return SlpackError(
            f"the function {name} is in a Failed state ({reason.rstrip('.')}); fix the cause "
            "(often the role, the layer or the code bucket's region) and run slpack deploy again."
        )
    if error := last.get("Error"):
        return SlpackError(
            f"waiting for the function {name} failed: {error.get('Code')}: {error.get('Message')}."
        )
    return SlpackError(
        f"the function {name} did not finish updating in time; check it with slpack "
        "status and deploy again."
    )


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn every AWS failure a user can cause into a :class:`SlpackError` (one sentence, no
    traceback)."""
    try:
        yield
    except SlpackError:
        raise
    except Exception as exc:
        cause = _botocore_cause(exc)
        translated = translate(cause) if cause is not None else None
        if translated is None:
            raise
        raise translated from None


def _botocore_cause(exc: BaseException | None) -> Exception | None:
    """``exc`` or the botocore error it was raised from (boto3's upload wraps a ``ClientError``)."""
    while exc is not None:
        if isinstance(exc, Exception) and type(exc).__module__.startswith("botocore"):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
