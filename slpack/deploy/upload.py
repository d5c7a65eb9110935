"""Upload a zip to S3 without leaving a half-finished multipart upload behind.

An unfinished multipart upload is invisible in the bucket listing but its parts are stored (and
billed) until someone aborts it. boto3's transfer manager only aborts on errors it sees itself;
an interrupt (Ctrl-C) or any failure between parts here aborts the upload before the exception
goes on, so the bucket holds either the whole object or nothing of this run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PART_BYTES = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; below one part, a single PUT


def upload_file(s3: Any, path: Path, Bucket: str, Key: str, part_bytes: int = PART_BYTES) -> None:
    """Put ``path`` at ``s3://bucket/key``: one request when small, else a multipart upload that
    is aborted if anything (an interrupt included) stops it before it completes. ``Bucket`` and
    ``Key`` are spelled as the plan's call parameters are (boto3's names)."""
    bucket, key = Bucket, Key
    size = path.stat().st_size
    if size <= part_bytes:
        with path.open("rb") as fh:
            s3.put_object(Bucket=bucket, Key=key, Body=fh)
        return
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        parts = []
        with path.open("rb") as fh:
            for number, chunk in enumerate(iter(lambda: fh.read(part_bytes), b""), start=1):
                etag = s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                )["ETag"]
                parts.append({"ETag": etag, "PartNumber": number})
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        _abort(s3, bucket, key, upload_id)
        raise


def _abort(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort, keeping the original failure as the one reported (an abort that fails too is
    cleaned up by the bucket's lifecycle rule, docs/deploy.md)."""
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception:  # the first failure is the one the user needs to see
        return
