"""A QA run's objects (batches, report) in the QA reports bucket (S3)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from aicore import aws


class S3QaRuns:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    @cached_property
    def _s3(self) -> Any:
        return aws.s3_client()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
