"""The cold tier's objects in the archive bucket (S3)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.sessions.archive import CONTENT_TYPE, ArchiveMissing


class S3SessionArchive:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    @cached_property
    def _s3(self) -> Any:
        return aws.s3_client()  # on first use: most requests never touch the cold tier

    def put(self, key: str, data: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=CONTENT_TYPE,
        )

    def get(self, key: str) -> bytes:
        try:
            return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise ArchiveMissing(key) from exc
            raise

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)
