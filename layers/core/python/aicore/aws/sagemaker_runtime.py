"""Language models behind SageMaker real-time endpoints, called through SageMaker Runtime.

The same code runs in the cloud and on a laptop: locally, boto3 reads the local model server's
address from `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, so nothing here knows which world it is in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.eventstream import ParserError
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import ChatCall, ChatResult, ChatStream, Finish, TierTarget
from aicore.llm.wire import (
    SSE_DONE,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    SseDecoder,
    StreamOptions,
    Usage,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

    from aicore.llm.embedding import Vectors

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


class SageMakerEndpoint:
    """`ModelEndpoint` over SageMaker Runtime (`InvokeEndpoint[WithResponseStream]`).

    botocore sets timeouts per client, so there is one client per distinct timeout (callers use
    one per tier), each created on first use and kept for the life of the process. No retries: a
    retry would break the latency budget; falling back to another tier is the caller's job.
    """

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout_s: float = 1.0,
    ) -> None:
        self._region_name = region_name
        self._endpoint_url = endpoint_url  # None: boto3's own lookup, env var included
        self._connect_timeout_s = connect_timeout_s
        self._clients: dict[float, SageMakerRuntimeClient] = {}
        self._lock = threading.Lock()

    def stream_chat(self, call: ChatCall) -> ChatStream:
        """Calls the endpoint now (so a dead endpoint fails here) and yields deltas as they arrive."""
        endpoint_name = call.target.endpoint
        body = _request_body(call, stream=True)
        with _as_model_unavailable(endpoint_name):
            response = self._client(call.timeout_s).invoke_endpoint_with_response_stream(
                EndpointName=endpoint_name,
                Body=body,
                ContentType=JSON,
                Accept=EVENT_STREAM,
                **_routing(call),
            )
        body = response["Body"]
        return ChatStream(stream_items(endpoint_name, body), abort=body.close)

    def chat(self, call: ChatCall) -> ChatResult:
        endpoint_name = call.target.endpoint
        body = _request_body(call, stream=False)
        with _as_model_unavailable(endpoint_name):
            response = self._client(call.timeout_s).invoke_endpoint(
                EndpointName=endpoint_name,
                Body=body,
                ContentType=JSON,
                Accept=JSON,
                **_routing(call),
            )
            payload = response["Body"].read()
        return _chat_result(endpoint_name, payload)

    def invoke(self, target: TierTarget, body: bytes, timeout_s: float) -> bytes:
        """One `InvokeEndpoint` with a JSON body; the JSON answer's bytes."""
        with _as_model_unavailable(target.endpoint):
            response = self._client(timeout_s).invoke_endpoint(
                EndpointName=target.endpoint,
                Body=body,
                ContentType=JSON,
                Accept=JSON,
                **_component(target.component),
            )
            payload: bytes = response["Body"].read()
        return payload

    def warm_up(self, timeout_s: float) -> None:
        """Builds the client for `timeout_s` now (~100 ms of botocore set-up), not in a caller's budget."""
        self._client(timeout_s)

    def _client(self, read_timeout_s: float) -> SageMakerRuntimeClient:
        with self._lock:
            client = self._clients.get(read_timeout_s)
            if client is None:
                client = self._new_client(read_timeout_s)
                self._clients[read_timeout_s] = client
            return client

    def _new_client(self, read_timeout_s: float) -> SageMakerRuntimeClient:
        config = Config(
            connect_timeout=self._connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        client = boto3.session.Session().client(
            "sagemaker-runtime", region_name=self._region_name, endpoint_url=self._endpoint_url, config=config
        )
        return cast("SageMakerRuntimeClient", client)


def _component(component: str | None) -> dict[str, str]:
    """Which model on the endpoint: its inference component, where it has them."""
    return {"InferenceComponentName": component} if component else {}


def _routing(call: ChatCall) -> dict[str, str]:
    """Which model on the endpoint (its inference component), and the caller's deadline."""
    extra = _component(call.target.component)
    if call.deadline is not None:
        extra["CustomAttributes"] = f"deadline_ms={int(call.deadline * 1000)}"
    return extra


def _request_body(call: ChatCall, *, stream: bool) -> bytes:
    request = ChatRequest(
        messages=list(call.messages),
        max_tokens=call.max_tokens,
        temperature=call.temperature,
        stream=stream,
        stream_options=StreamOptions(include_usage=True) if stream else None,
    )
    return request.model_dump_json(exclude_none=True).encode()


def _chat_result(endpoint_name: str, payload: bytes) -> ChatResult:
    try:
        completion = ChatCompletion.model_validate_json(payload)
    except ValidationError as error:
        raise _malformed(endpoint_name, "answer", error) from None
    choice = completion.choices[0]
    return ChatResult(
        text=choice.message.content,
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
        finish_reason=choice.finish_reason,
    )


def text_deltas(endpoint_name: str, event_stream: Any) -> Generator[str, None, None]:
    """The text deltas in a response stream (botocore's `EventStream` of `PayloadPart` events)."""
    items = stream_items(endpoint_name, event_stream)
    try:
        for item in items:
            if isinstance(item, str):
                yield item
    finally:
        items.close()


def stream_items(endpoint_name: str, event_stream: Any) -> Generator[str | Usage | Finish, None, None]:
    """The text deltas in a response stream, why it finished (`Finish`) and its token counts
    (`Usage`), each when the endpoint sends it.

    Yields the non-empty text of each chunk until `[DONE]`; the rest is drained, then closed.

    Draining lets the connection go back to the pool; closing (also when the caller stops early)
    releases it either way.
    """
    done = False
    try:
        for data in _sse_data(endpoint_name, event_stream):
            if done:
                continue
            if data == SSE_DONE:
                done = True
                continue
            chunk = _chunk(endpoint_name, data)
            if chunk.text:
                yield chunk.text
            reason = next((c.finish_reason for c in chunk.choices if c.finish_reason), None)
            if reason is not None:
                yield Finish(reason)
            if chunk.usage is not None:
                yield chunk.usage
    finally:
        event_stream.close()
    if not done:
        raise ModelUnavailable(
            f"Model endpoint {endpoint_name} ended its stream before [DONE].",
            details={"endpoint": endpoint_name, "reason": "StreamCut"},
        )


def _sse_data(endpoint_name: str, event_stream: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The data of each server-sent event in the payload parts, reassembled across parts."""
    decoder = SseDecoder()
    with _as_model_unavailable(endpoint_name):
        for event in event_stream:
            part = event.get("PayloadPart")
            if part is not None:
                yield from decoder.feed(part["Bytes"])


def _chunk(endpoint_name: str, data: str) -> ChatCompletionChunk:
    try:
        return ChatCompletionChunk.model_validate_json(data)
    except ValidationError as error:
        raise _malformed(endpoint_name, "stream chunk", error) from None


def _malformed(endpoint_name: str, what: str, error: ValidationError) -> ModelUnavailable:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return ModelUnavailable(
        f"Model endpoint {endpoint_name} sent a malformed {what}: {where}: {first['msg']}.",
        details={"endpoint": endpoint_name, "reason": "MalformedResponse"},
    )


@contextmanager
def _as_model_unavailable(endpoint_name: str) -> Iterator[None]:
    """botocore, urllib3 and event-stream failures become one domain error, without their trace."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "Unknown"
        message = error.response.get("Error", {}).get("Message") or "no message"
        raise ModelUnavailable(
            f"Model endpoint {endpoint_name} refused the call: {code}: {message}",
            details={"endpoint": endpoint_name, "reason": code},
        ) from None
    except (BotoCoreError, urllib3.exceptions.HTTPError, ParserError, UnicodeDecodeError) as error:
        raise ModelUnavailable(
            f"Model endpoint {endpoint_name} did not answer properly: {error}",
            details={"endpoint": endpoint_name, "reason": type(error).__name__},
        ) from None


class EndpointEmbedder:
    """`Embedder` over the embed tier: Text Embeddings Inference's contract through `InvokeEndpoint`,
    `{"inputs": [...], "normalize": true, "truncate": true}` in, `[[...], ...]` out.

    Texts go in batches of at most `batch_size` (the container's `MAX_CLIENT_BATCH_SIZE`); blank
    texts are not sent (their vector is all zeros, as the `Embedder` contract says).
    """

    def __init__(
        self,
        target: TierTarget,
        model: str,
        dimensions: int,
        *,
        endpoint: SageMakerEndpoint | None = None,
        batch_size: int = 32,
        timeout_s: float = 30.0,
    ) -> None:
        self._target = target
        self._endpoint = endpoint or SageMakerEndpoint()
        self.name = f"embed:{model}"
        self.dimensions = dimensions
        self._batch_size = batch_size
        self._timeout_s = timeout_s

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        rows = [i for i, text in enumerate(texts) if text.strip()]
        for start in range(0, len(rows), self._batch_size):
            batch = rows[start : start + self._batch_size]
            vectors[batch] = self._embed_batch([texts[i] for i in batch])
        return vectors

    def _embed_batch(self, texts: list[str]) -> Vectors:
        import numpy as np

        body = json.dumps({"inputs": texts, "normalize": True, "truncate": True}).encode()
        payload = self._endpoint.invoke(self._target, body, self._timeout_s)
        endpoint = self._target.endpoint
        try:
            vectors = np.asarray(json.loads(payload), dtype=np.float32)
        except (ValueError, TypeError):
            raise ModelUnavailable(
                f"Model endpoint {endpoint} answered something that is not a list of vectors.",
                details={"endpoint": endpoint, "reason": "MalformedResponse"},
            ) from None
        if vectors.shape != (len(texts), self.dimensions) or not np.isfinite(vectors).all():
            raise ModelUnavailable(
                f"Model endpoint {endpoint} answered vectors of shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dimensions}).",
                details={"endpoint": endpoint, "reason": "MalformedResponse"},
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return unit
