"""Fetch the model from S3 once per container: a hand-signed GET, verified, cached on disk.

Why by hand: the function ships without boto3 (it would double the zip and the cold start), and
one signed GET is a page of code, tested against botocore's own signer. Why a cache keyed by
the manifest's sha256: Lambda keeps /tmp across warm starts and runtime restarts in the same
sandbox, so an intact file is reused without a network call, and a new model version can never
be confused with the old one. Nothing reaches the cache path unless its hash matched, and a
lock file makes concurrent workers of one container download once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import BinaryIO, NamedTuple

from slpack_handler.contract import Env

__all__ = [
    "Credentials",
    "ModelFetchError",
    "fetch_model",
    "object_url",
    "parse_s3_uri",
    "sign_get",
]

BACKOFF_BASE_S = 0.2  # full-jitter exponential backoff: sleep U(0, min(cap, base * 2**n))
BACKOFF_CAP_S = 2.0
_CHUNK = 1 << 20
_STALE_PART_S = 900.0  # a .part older than the longest Lambda timeout belongs to a dead process
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
    }
)
_BAD_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
    }
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ECS_HOST = "http://169.254.170.2"


class ModelFetchError(Exception):
    """The model could not be fetched or verified; str() is one sentence for a 503 body."""


class _Transient(Exception):
    """One attempt failed in a way the next one may not (connection, timeout, 5xx, throttling)."""


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None = None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key``; anything else is a configuration error, said as such."""
    parts = urllib.parse.urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise ModelFetchError(f"SLPACK_MODEL_URI must look like s3://bucket/key, not {uri!r}.")
    return parts.netloc, key


def object_url(bucket: str, key: str, region: str, endpoint: str | None = None) -> str:
    """The object's URL, its key encoded once as SigV4 wants (every byte but A-Za-z0-9-_.~ and '/').

    An endpoint override (moto, MinIO) gets path-style addressing; AWS gets virtual-hosted style,
    except for dotted bucket names, which the ``*.s3`` TLS certificate cannot cover.
    """
    path = urllib.parse.quote(key, safe="/~")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{path}"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    if "." in bucket:
        return f"https://s3.{region}.{suffix}/{bucket}/{path}"
    return f"https://{bucket}.s3.{region}.{suffix}/{path}"


def sign_get(url: str, credentials: Credentials, region: str, now: datetime) -> dict[str, str]:
    """Headers for an AWS Signature Version 4 GET of ``url`` (service s3, unsigned payload).

    The URL's path must already be encoded (see :func:`object_url`); S3 signs it as sent,
    without normalising it. The Host header is returned too, so the bytes sent are the ones signed.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": stamp}
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            _canonical_query(parts.query),
            "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers)),
            signed,
            "UNSIGNED-PAYLOAD",
        ]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def _canonical_query(query: str) -> str:
    """Sorted ``name=value`` pairs, already encoded in the URL (a GET of a versionId, say)."""
    return "&".join(
        sorted(pair if "=" in pair else f"{pair}=" for pair in query.split("&") if pair)
    )


class _Budget:
    """The time a fetch may take: the invocation's remaining time, less a margin to answer 503.

    Without a budget (a load during init) each attempt keeps its own timeout. A socket timeout
    bounds one read, not a download, so the deadline is also checked between reads.
    """

    def __init__(self, budget_s: float | None, margin_s: float) -> None:
        self.budget_s = budget_s
        self.deadline = None if budget_s is None else time.monotonic() + budget_s - margin_s

    def timeout(self, cap_s: float) -> float:
        """The timeout for the next network wait: ``cap_s``, or less if time is short."""
        if self.deadline is None:
            return cap_s
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise _OutOfTime()
        return min(cap_s, left)

    def sleep(self, seconds: float) -> None:
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - time.monotonic()))
        time.sleep(seconds)


class _OutOfTime(Exception):
    """The budget is spent: stop now so the invocation can still answer."""


def fetch_model(
    uri: str,
    sha256: str,
    cache_dir: str,
    *,
    attempts: int = 4,
    timeout_s: float = 10.0,
    budget_s: float | None = None,
    margin_s: float = 2.0,
) -> str:
    """Return a local path to the verified model for s3://bucket/key, fetched at most once per
    container, within ``budget_s`` seconds less ``margin_s`` (None: no overall budget)."""
    bucket, key = parse_s3_uri(uri)
    sha256 = sha256.lower()
    if not _SHA256_HEX.fullmatch(sha256):
        raise ModelFetchError(
            f"the manifest's model sha256 {sha256!r} is not a 64-digit hex digest; "
            "rebuild the bundle."
        )
    dest = os.path.join(cache_dir, f"{sha256}.model")
    if _is_intact(dest, sha256):
        return dest
    where = f"s3://{bucket}/{key}"
    budget = _Budget(budget_s, margin_s)
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as exc:
        raise _disk_error(exc, cache_dir) from None
    try:
        with _locked(os.path.join(cache_dir, f".{sha256}.lock"), budget):
            if _is_intact(dest, sha256):  # another worker fetched it while we waited for the lock
                return dest
            _sweep_partials(cache_dir, sha256)
            _fetch(
                where,
                object_url(bucket, key, _region(), _endpoint()),
                dest,
                sha256,
                budget,
                attempts,
                timeout_s,
            )
            return dest
    except _OutOfTime:
        raise ModelFetchError(
            f"could not fetch {where} within the {budget.budget_s:.1f} s the invocation had left "
            f"(keeping {margin_s:.1f} s to answer); check that S3 is reachable from the function "
            "or raise its timeout."
        ) from None


def _fetch(
    where: str, url: str, dest: str, sha256: str, budget: _Budget, attempts: int, timeout_s: float
) -> None:
    """Download with retries (full-jitter backoff) until it verifies, fails, or time is up."""
    region = _region()
    for attempt in range(attempts):
        try:
            _download(url, region, dest, sha256, budget, timeout_s, where)
            return
        except _Transient as exc:
            if attempt + 1 >= attempts:
                raise ModelFetchError(
                    f"could not fetch {where} after {attempt + 1} attempts "
                    f"({exc}); check that S3 is reachable from the function."
                ) from None
        budget.sleep(random.uniform(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _endpoint() -> str | None:
    for name in (Env.S3_ENDPOINT_URL, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if value := os.environ.get(name, "").strip():
            return value
    return None


def _is_intact(path: str, sha256: str) -> bool:
    """True when ``path`` holds the expected bytes; a mismatching file is removed, never trusted."""
    try:
        actual = _sha256_file(path)
    except FileNotFoundError:
        return False
    except OSError:
        actual = ""
    if actual == sha256:
        return True
    with contextlib.suppress(OSError):
        os.remove(path)
    return False


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: str, budget: _Budget) -> Iterator[None]:
    """Hold an exclusive lock file so that the workers of one container download once.

    Waiting for another worker's download is bounded by the budget like a download is.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _disk_error(exc, os.path.dirname(path)) from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                budget.timeout(1.0)  # raises _OutOfTime when the budget is spent
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _sweep_partials(cache_dir: str, sha256: str) -> None:
    """Remove temp files left by a process killed mid-download (a Lambda timeout keeps /tmp)."""
    cutoff = time.time() - _STALE_PART_S
    with contextlib.suppress(OSError), os.scandir(cache_dir) as entries:
        for entry in entries:
            if entry.name.startswith(f".{sha256}.") and entry.name.endswith(".part"):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.remove(entry.path)


def _download(
    url: str, region: str, dest: str, sha256: str, budget: _Budget, timeout_s: float, where: str
) -> None:
    """One attempt: stream to a temp file beside ``dest`` while hashing; rename it if it matches."""
    credentials = _credentials(budget.timeout(timeout_s))
    request = urllib.request.Request(
        url, headers=sign_get(url, credentials, region, datetime.now(timezone.utc))
    )
    cache_dir = os.path.dirname(dest)
    try:
        fd, part = tempfile.mkstemp(prefix=f".{sha256}.", suffix=".part", dir=cache_dir)
    except OSError as exc:
        raise _disk_error(exc, cache_dir) from None
    try:
        with os.fdopen(fd, "wb") as out:
            digest = hashlib.sha256()
            received = 0
            with _open(request, budget.timeout(timeout_s), where) as response:
                while chunk := _read(response, where, budget.timeout(timeout_s)):
                    digest.update(chunk)
                    received += len(chunk)
                    _write(out, chunk, cache_dir)
                expected = response.headers.get("Content-Length")
            if expected is not None and received != int(expected):  # read(n) hides an early EOF
                raise _Transient(f"the connection closed after {received} of {expected} bytes")
        actual = digest.hexdigest()
        if actual != sha256:
            raise ModelFetchError(
                f"{where} has sha256 {actual}, which does not match the manifest's "
                f"{sha256}; upload the model built with this bundle, "
                "or point SLPACK_MODEL_URI at it."
            )
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(part)
        raise


def _open(
    request: urllib.request.Request, timeout_s: float, where: str
) -> http.client.HTTPResponse:
    try:
        response: http.client.HTTPResponse = _OPENER.open(request, timeout=timeout_s)
        return response
    except urllib.error.HTTPError as exc:
        raise _http_failure(exc, where) from None
    except urllib.error.URLError as exc:
        raise _Transient(f"cannot connect: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Transient(f"connection failed: {exc!r}") from None


def _read(response: http.client.HTTPResponse, where: str, timeout_s: float) -> bytes:
    """The next chunk, waiting at most ``timeout_s`` (the socket's timeout bounds one wait)."""
    sock = getattr(getattr(response.fp, "raw", None), "_sock", None)  # SocketIO's socket
    if sock is not None:
        sock.settimeout(timeout_s)
    try:
        return response.read(_CHUNK)
    except (OSError, http.client.HTTPException) as exc:
        raise _Transient(f"the connection broke while reading {where}: {exc!r}") from None


def _write(out: BinaryIO, data: bytes, cache_dir: str) -> None:
    """Write and flush, so that a full disk is reported here and not later by close()."""
    try:
        out.write(data)
        out.flush()
    except OSError as exc:
        raise _disk_error(exc, cache_dir) from None


def _disk_error(exc: OSError, cache_dir: str) -> ModelFetchError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelFetchError(
            f"{cache_dir} is full, so the model cannot be cached there; raise the function's "
            "ephemeral storage or set SLPACK_MODEL_CACHE_DIR to a larger volume."
        )
    return ModelFetchError(
        f"cannot write the model cache {cache_dir} ({exc.strerror}); "
        "set SLPACK_MODEL_CACHE_DIR to a writable folder."
    )


def _http_failure(exc: urllib.error.HTTPError, where: str) -> _Transient | ModelFetchError:
    """Classify an S3 error answer: transient ones are retried, the rest say what to fix."""
    body = ""
    with contextlib.suppress(OSError, http.client.HTTPException):
        body = exc.read(65536).decode("utf-8", "replace")
    code = _xml_field(body, "Code") or exc.reason
    status = f"{exc.code} {code}"
    if exc.code >= 500 or exc.code == 429 or code in _TRANSIENT_CODES:
        return _Transient(f"S3 answered {status}")
    bucket = parse_s3_uri(where)[0]
    if exc.code == 403 and code in _BAD_CREDENTIAL_CODES:
        return ModelFetchError(
            f"S3 rejected the function's credentials for {where} ({status}); "
            "check its role or AWS_* variables."
        )
    if exc.code == 403:
        return ModelFetchError(
            f"the function's role may not read {where} ({status}); grant s3:GetObject on that key."
        )
    if exc.code == 404 and code == "NoSuchBucket":
        return ModelFetchError(f"bucket {bucket} does not exist ({status}); fix SLPACK_MODEL_URI.")
    if exc.code == 404:
        return ModelFetchError(
            f"{where} does not exist ({status}); upload the model there or fix SLPACK_MODEL_URI."
        )
    if home := exc.headers.get("x-amz-bucket-region") or _xml_field(body, "Region"):
        return ModelFetchError(
            f"bucket {bucket} is in region {home} ({status}); "
            f"set AWS_REGION={home} for the function."
        )
    return ModelFetchError(f"S3 refused to serve {where} ({status}).")


def _xml_field(body: str, name: str) -> str | None:
    """One field of S3's small, flat XML error document (no parser needed, none imported)."""
    match = re.search(rf"<{name}>([^<]+)</{name}>", body)
    return match.group(1) if match else None


def _credentials(timeout_s: float) -> Credentials:
    """The function's credentials: environment variables (Lambda), else the container endpoint.

    Lambda SnapStart and ECS hand out credentials through AWS_CONTAINER_CREDENTIALS_* instead of
    the AWS_ACCESS_KEY_ID family, so both are read, in the order botocore reads them.
    """
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials(
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN") or None,
        )
    if relative := env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        url = _ECS_HOST + relative
    elif not (url := env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")):
        raise ModelFetchError(
            "no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_CONTAINER_CREDENTIALS_FULL_URI); give the function a role that may read it."
        )
    try:
        headers = {}
        if token_file := env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
            with open(token_file, encoding="utf-8") as f:
                headers["Authorization"] = f.read().strip()
        elif token := env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
            headers["Authorization"] = token
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout_s
        ) as response:
            data = json.load(response)
        return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data.get("Token"))
    except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
        raise _Transient(f"the container credentials endpoint failed: {exc!r}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect from S3 means a wrong region; following it would only fail the signature."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
