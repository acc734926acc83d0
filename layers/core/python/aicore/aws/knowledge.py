"""The knowledge base's stores: document records and index pointers in the world table (DynamoDB),
documents, work objects and indexes in the knowledge bucket (S3). The layout is in
`aicore.knowledge.store`."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from aicore import aws
from aicore.knowledge.models import Chunk, DocumentSource, DocumentStatus, IndexPointer, LoreDocument
from aicore.knowledge.store import DOCUMENT_PREFIX, POINTER_SK, document_sk
from aicore.world.store import world_pk

if TYPE_CHECKING:
    from aicore.llm.embedding import Vectors

_CHUNKS: TypeAdapter[list[Chunk]] = TypeAdapter(list[Chunk])
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ITEM_KEYS = ("pk", "sk")


def _model_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _ITEM_KEYS}


class DynamoKnowledgeStore:
    """`DocumentStore` and `IndexPointers` over the world table."""

    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    def create(self, document: LoreDocument) -> LoreDocument | None:
        item = {
            "pk": world_pk(document.world_id),
            "sk": document_sk(document.document_id),
            **document.model_dump(mode="json", exclude_none=True),
        }
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = error.response.get("Item") or self._item(document.world_id, document.document_id)
            if existing is None:  # removed since: nothing to return but the race itself
                raise
            return LoreDocument.model_validate(_model_fields(_plain(existing)))
        return None

    def get(self, world_id: str, document_id: str) -> LoreDocument | None:
        item = self._item(world_id, document_id)
        return LoreDocument.model_validate(_model_fields(item)) if item else None

    def list(self, world_id: str) -> list[LoreDocument]:
        condition = Key("pk").eq(world_pk(world_id)) & Key("sk").begins_with(DOCUMENT_PREFIX)
        return [
            LoreDocument.model_validate(_model_fields(i))
            for i in aws.query_items(self._table, KeyConditionExpression=condition)
        ]

    def chunked(self, world_id: str, document_id: str, chunks: int, at: str) -> None:
        self._update(world_id, document_id, "SET chunks = :c, updated_at = :at", {":c": chunks, ":at": at})

    def fail(self, world_id: str, document_id: str, reason: str, at: str) -> None:
        try:
            self._table.update_item(
                Key={"pk": world_pk(world_id), "sk": document_sk(document_id)},
                UpdateExpression="SET #s = :failed, reason = :reason, updated_at = :at",
                ConditionExpression="attribute_exists(pk) AND #s <> :ready",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":failed": DocumentStatus.FAILED.value,
                    ":ready": DocumentStatus.READY.value,
                    ":reason": reason,
                    ":at": at,
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # else: gone, or already ready (a late failure of a redelivered step)

    def current(self, world_ids: Sequence[str]) -> Mapping[str, IndexPointer]:
        keys = [{"pk": world_pk(w), "sk": POINTER_SK} for w in dict.fromkeys(world_ids)]
        if not keys:
            return {}
        client = aws.resource_client(self._table)
        response = client.batch_get_item(RequestItems={self._name: {"Keys": keys}})
        items = list(response["Responses"].get(self._name, []))
        while response.get("UnprocessedKeys"):
            response = client.batch_get_item(RequestItems=response["UnprocessedKeys"])
            items += response["Responses"].get(self._name, [])
        pointers = [IndexPointer.model_validate(_model_fields(i)) for i in items]
        return {p.world_id: p for p in pointers}

    def publish(self, pointer: IndexPointer, document_id: str | None, at: str) -> bool:
        item = {"pk": world_pk(pointer.world_id), "sk": POINTER_SK, **pointer.model_dump(mode="json")}
        put: dict[str, Any] = {"TableName": self._name, "Item": item}
        if pointer.revision == 1:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "revision = :previous"
            put["ExpressionAttributeValues"] = {":previous": pointer.revision - 1}
        transaction: list[dict[str, Any]] = [{"Put": put}]
        if document_id is not None:
            transaction.append(
                {
                    "Update": {
                        "TableName": self._name,
                        "Key": {"pk": world_pk(pointer.world_id), "sk": document_sk(document_id)},
                        "UpdateExpression": "SET #s = :ready, updated_at = :at, "
                        "index_version = if_not_exists(index_version, :version) REMOVE reason",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":ready": DocumentStatus.READY.value,
                            ":at": at,
                            ":version": pointer.version,
                        },
                    }
                }
            )
        try:
            aws.resource_client(self._table).transact_write_items(TransactItems=transaction)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return False
        return True

    def _update(self, world_id: str, document_id: str, expression: str, values: dict[str, Any]) -> None:
        self._table.update_item(
            Key={"pk": world_pk(world_id), "sk": document_sk(document_id)},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )

    def _item(self, world_id: str, document_id: str) -> dict[str, Any] | None:
        key = {"pk": world_pk(world_id), "sk": document_sk(document_id)}
        item: dict[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as `ReturnValuesOnConditionCheckFailure` gives it (typed attribute values), as plain
    values (what the table resource gives elsewhere)."""
    from boto3.dynamodb.types import TypeDeserializer

    if all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _TYPES for v in item.values()):
        deserializer = TypeDeserializer()
        return {k: deserializer.deserialize(v) for k, v in item.items()}
    return dict(item)


_TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


class S3KnowledgeObjects:
    """`KnowledgeObjects` over the knowledge bucket."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    @cached_property
    def _s3(self) -> Any:
        return aws.s3_client()

    def put_source(self, source: DocumentSource) -> None:
        self._put(_source_key(source.world_id, source.document_id), source.model_dump_json().encode())

    def source(self, world_id: str, document_id: str) -> DocumentSource | None:
        data = self._get(_source_key(world_id, document_id))
        return None if data is None else DocumentSource.model_validate_json(data)

    def put_chunks(self, world_id: str, document_id: str, chunks: Sequence[Chunk]) -> None:
        self._put(_work_key(world_id, document_id, "chunks.json"), _CHUNKS.dump_json(list(chunks)))

    def chunks(self, world_id: str, document_id: str) -> list[Chunk] | None:
        data = self._get(_work_key(world_id, document_id, "chunks.json"))
        return None if data is None else _CHUNKS.validate_json(data)

    def put_vectors(self, world_id: str, document_id: str, embedder: str, vectors: Vectors) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
        self._put(_vectors_key(world_id, document_id, embedder), buffer.getvalue())

    def vectors(self, world_id: str, document_id: str, embedder: str) -> Vectors | None:
        data = self._get(_vectors_key(world_id, document_id, embedder))
        return None if data is None else np.load(io.BytesIO(data), allow_pickle=False)

    def put_index(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def index(self, key: str) -> bytes:
        data = self._get(key)
        if data is None:
            raise FileNotFoundError(f"no knowledge index at {key}")
        return data

    def prune_indexes(self, world_id: str, keep: Sequence[str], written_before: datetime) -> int:
        kept = set(keep)
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"indexes/{world_id}/"
        )
        stale = [
            o["Key"]
            for page in pages
            for o in page.get("Contents", [])
            if o["Key"] not in kept and o["LastModified"] < written_before
        ]
        for start in range(0, len(stale), 1000):
            batch = [{"Key": key} for key in stale[start : start + 1000]]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True})
        return len(stale)

    def _put(self, key: str, body: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)

    def _get(self, key: str) -> bytes | None:
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return body


def _source_key(world_id: str, document_id: str) -> str:
    return f"documents/{world_id}/{document_id}.json"


def _work_key(world_id: str, document_id: str, name: str) -> str:
    return f"work/{world_id}/{document_id}/{name}"


def _vectors_key(world_id: str, document_id: str, embedder: str) -> str:
    return _work_key(world_id, document_id, f"vectors/{_UNSAFE.sub('_', embedder)}.npy")
