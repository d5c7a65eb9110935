"""An interrupted upload leaves no multipart upload behind (moto server over HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import AWS_TEST_REGION

from slpack.deploy.upload import upload_file

BUCKET = "slpack-artifacts"


class Interrupting:
    """An S3 client that is interrupted (Ctrl-C) while sending part ``at``."""

    def __init__(self, s3: Any, at: int) -> None:
        self.s3, self.at = s3, at

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def upload_part(self, **kwargs: Any) -> Any:
        if kwargs["PartNumber"] == self.at:
            raise KeyboardInterrupt
        return self.s3.upload_part(**kwargs)


@pytest.fixture
def s3(aws_env: str) -> Any:
    client = boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def test_an_interrupted_multipart_upload_is_aborted(s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "layer.zip"
    path.write_bytes(b"x" * (11 * 1024 * 1024))  # three parts of 5 MiB (S3's minimum)

    with pytest.raises(KeyboardInterrupt):
        upload_file(Interrupting(s3, at=2), path, BUCKET, "slpack/layers/x.zip", 5 * 1024 * 1024)

    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)

    upload_file(s3, path, BUCKET, "slpack/layers/x.zip", 5 * 1024 * 1024)  # the next run
    body = s3.get_object(Bucket=BUCKET, Key="slpack/layers/x.zip")["Body"].read()
    assert body == path.read_bytes()
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
