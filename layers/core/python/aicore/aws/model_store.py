"""The models bucket: staged model weights, written as they stream in (multipart for large files)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.modelops.staging import StoredObject

# S3 parts are 5 MiB to 5 GiB (the last may be smaller); 64 MiB keeps a 10,000-part upload able to
# hold 625 GiB while the function holds one part in memory.
PART_BYTES = 64 * 1024 * 1024


class S3ModelStore:
    """`WeightsStore` over S3 (`s3:GetObject` for HEAD, `s3:PutObject` and the multipart calls)."""

    def __init__(self, bucket: str, client: Any | None = None, part_bytes: int = PART_BYTES) -> None:
        self._bucket = bucket
        self._client = client or aws.s3_client()
        self._part_bytes = part_bytes

    @property
    def bucket(self) -> str:
        return self._bucket

    def head(self, key: str) -> StoredObject | None:
        try:
            found = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(size=int(found["ContentLength"]), metadata=dict(found.get("Metadata") or {}))

    def writer(self, key: str, metadata: Mapping[str, str]) -> MultipartWriter:
        return MultipartWriter(self._client, self._bucket, key, dict(metadata), self._part_bytes)

    def put_json(self, key: str, document: Mapping[str, Any]) -> None:
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )


class MultipartWriter:
    """Buffers one part at a time; a file smaller than a part is a single PutObject at commit."""

    def __init__(self, client: Any, bucket: str, key: str, metadata: dict[str, str], part_bytes: int) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._metadata, self._part_bytes = metadata, part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= self._part_bytes:
            part = bytes(self._buffer[: self._part_bytes])
            del self._buffer[: self._part_bytes]
            self._upload(part)

    def commit(self) -> None:
        if self._upload_id is None:
            self._client.put_object(
                Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), Metadata=self._metadata
            )
            return
        if self._buffer:
            self._upload(bytes(self._buffer))
            self._buffer.clear()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None

    def _upload(self, part: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, Metadata=self._metadata
            )
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        uploaded = self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        self._parts.append({"PartNumber": number, "ETag": uploaded["ETag"]})
