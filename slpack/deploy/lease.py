"""One deploy of a function at a time: a lease object in the artifacts bucket.

``slpack/<function>/deploy.lease`` is created with S3's conditional write (``If-None-Match: *``),
which succeeds for exactly one writer; the deploy holding it reads what AWS has, plans and
applies, then deletes it (``If-Match`` its own ETag). A second deploy of the same function either
waits for it (``--wait``) or stops with one sentence naming the holder. A deploy that died keeps
the lease until it expires: expiry is judged on S3's own clock (the object's ``LastModified``
against the ``Date`` of the answer), so machines with skewed clocks agree, and the holder renews
it (``If-Match``) between steps, so a long deploy keeps it.

The lease orders deploys that share a bucket; Lambda's ``RevisionId`` on every write (see
:mod:`slpack.deploy.function`) guards against everything else (a rollback, the console, another
bucket), so the two together never leave the alias on a version the deploy did not report.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from slpack.deploy.aws import Aws, error_code, unless_missing
from slpack.errors import SlpackError

LEASE_S = 900  # 15 minutes: longer than any step, Lambda's waiters included
RENEW_EVERY_S = 120.0
POLL_S = 2.0
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def lease_key(function_name: str) -> str:
    return f"slpack/{function_name}/deploy.lease"


class Lease:
    """A held lease: renewed between steps, released at the end."""

    def __init__(self, aws: Aws, bucket: str, key: str, etag: str, body: bytes) -> None:
        self.aws, self.bucket, self.key, self.etag, self.body = aws, bucket, key, etag, body
        self._renewed = time.monotonic()

    def keep(self) -> None:
        """Renew the lease when it is due (cheap to call before every step)."""
        if time.monotonic() - self._renewed < RENEW_EVERY_S:
            return
        try:
            response = self.aws.client("s3").put_object(
                Bucket=self.bucket, Key=self.key, Body=self.body, IfMatch=self.etag
            )
        except Exception as exc:
            if error_code(exc) in _TAKEN or error_code(exc) in {"NoSuchKey", "404"}:
                raise SlpackError(
                    f"this deploy's lease s3://{self.bucket}/{self.key} expired and another "
                    "deploy took it over; it stopped before its next step: run slpack status, "
                    "then deploy again."
                ) from None
            raise
        self.etag, self._renewed = response["ETag"], time.monotonic()

    def release(self) -> None:
        try:
            self.aws.client("s3").delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except Exception as exc:
            if error_code(exc) not in _TAKEN | {"NoSuchKey", "404"}:
                raise


@contextmanager
def held(aws: Aws, bucket: str, function_name: str, wait_s: float) -> Iterator[Lease]:
    """Hold the function's deploy lease for the ``with`` block, waiting up to ``wait_s`` for it."""
    lease = acquire(aws, bucket, lease_key(function_name), function_name, wait_s)
    try:
        yield lease
    finally:
        lease.release()


def acquire(aws: Aws, bucket: str, key: str, function_name: str, wait_s: float) -> Lease:
    s3 = aws.client("s3")
    body = json.dumps(
        {
            "holder": f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    ).encode()
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
            return Lease(aws, bucket, key, response["ETag"], body)
        except Exception as exc:
            if error_code(exc) not in _TAKEN:
                raise
        current = unless_missing(lambda: s3.get_object(Bucket=bucket, Key=key))
        if current is None:
            continue  # released in between: try again at once
        holder = _holder(current)
        if _expired(current):
            try:  # take over the dead deploy's lease; only one taker can match its ETag
                response = s3.put_object(Bucket=bucket, Key=key, Body=body, IfMatch=current["ETag"])
                return Lease(aws, bucket, key, response["ETag"], body)
            except Exception as exc:
                if error_code(exc) not in _TAKEN:
                    raise
                continue
        if time.monotonic() >= deadline:
            raise SlpackError(
                f"another deploy of {function_name} is running ({holder}, lease "
                f"s3://{bucket}/{key}); wait for it, or pass --wait SECONDS to queue behind it "
                f"(a crashed deploy's lease runs out {LEASE_S // 60} minutes after it was taken)."
            )
        time.sleep(min(POLL_S, max(deadline - time.monotonic(), 0.05)))


def _holder(current: dict[str, Any]) -> str:
    try:
        info = json.loads(current["Body"].read())
        return f"{info['holder']}, since {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"


def _expired(current: dict[str, Any]) -> bool:
    """Older than LEASE_S by S3's clock (the answer's Date header against LastModified)."""
    date = (current.get("ResponseMetadata") or {}).get("HTTPHeaders", {}).get("date")
    modified = current.get("LastModified")
    if not date or not isinstance(modified, datetime):
        return False
    return (parsedate_to_datetime(date) - modified).total_seconds() > LEASE_S
