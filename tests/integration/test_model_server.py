"""The local model server through real boto3 `sagemaker-runtime` and the `SageMakerEndpoint` adapter."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import ChatCall, TierTarget
from aicore.llm.wire import ChatMessage, ChatRequest
from aicore.local.model_queue import ModelQueue
from aicore.local.model_server import ACCOUNT_ID, Faults, ModelServerThread
from tests.waiting import eventually

GREETING = [
    ChatMessage(role="system", content="You are Brom, the village blacksmith. Answer in one short line."),
    ChatMessage(role="user", content="Hello! What do you sell?"),
]
CHAT_BODY = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 0.0})
SCRIPTED = "aicore-test-gold"
MODEL_TIMEOUT_S = 60  # generous: a busy 2-core machine slows llama.cpp a lot


def chat_body(**fields: Any) -> bytes:
    """A valid chat body with `fields` changed; a field set to None is left out."""
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "temperature": 0.5} | fields
    return json.dumps({name: value for name, value in body.items() if value is not None}).encode()


ServerFactory = Callable[..., AbstractContextManager[str]]


# --- the real model ---------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("tier", [0, 1], ids=["gold", "silver"])
def test_chat_answers_with_text_and_token_counts(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str], tier: int
) -> None:
    result = model_endpoint.chat(
        ChatCall(
            TierTarget(model_endpoint_names[tier]),
            GREETING,
            max_tokens=16,
            temperature=0.2,
            timeout_s=MODEL_TIMEOUT_S,
        )
    )

    assert result.text.strip()
    assert result.prompt_tokens > 10
    assert 0 < result.completion_tokens <= 16
    assert result.finish_reason in {"stop", "length"}


@pytest.mark.model
def test_stream_chat_yields_the_answer_piece_by_piece(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str]
) -> None:
    deltas = list(
        model_endpoint.stream_chat(
            ChatCall(
                TierTarget(model_endpoint_names[0]),
                GREETING,
                max_tokens=16,
                temperature=0.2,
                timeout_s=MODEL_TIMEOUT_S,
            )
        )
    )

    assert len(deltas) > 3
    assert all(deltas)
    assert "".join(deltas).strip()


@pytest.mark.model
def test_streamed_and_whole_answers_agree_when_greedy(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str]
) -> None:
    endpoint = model_endpoint_names[1]
    options: dict[str, Any] = {"max_tokens": 12, "temperature": 0.0, "timeout_s": MODEL_TIMEOUT_S}

    streamed = "".join(model_endpoint.stream_chat(ChatCall(TierTarget(endpoint), GREETING, **options)))
    whole = model_endpoint.chat(ChatCall(TierTarget(endpoint), GREETING, **options))

    assert streamed == whole.text


@pytest.mark.model
def test_invoke_endpoint_answers_an_openai_chat_completion(
    sagemaker_runtime: Any, model_endpoint_names: list[str]
) -> None:
    response = sagemaker_runtime.invoke_endpoint(
        EndpointName=model_endpoint_names[0], Body=CHAT_BODY, ContentType="application/json"
    )

    completion = json.loads(response["Body"].read())
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["role"] == "assistant"
    assert set(completion["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


@pytest.mark.model
def test_a_caller_that_stops_early_frees_the_model(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str]
) -> None:
    # Given a stream abandoned after its first delta
    deltas = model_endpoint.stream_chat(
        ChatCall(
            TierTarget(model_endpoint_names[0]),
            GREETING,
            max_tokens=64,
            temperature=0.2,
            timeout_s=MODEL_TIMEOUT_S,
        )
    )
    next(deltas)
    deltas.close()

    # Then the model still answers the next caller (a held lock would time out instead)
    result = model_endpoint.chat(
        ChatCall(
            TierTarget(model_endpoint_names[0]),
            GREETING,
            max_tokens=4,
            temperature=0.2,
            timeout_s=MODEL_TIMEOUT_S,
        )
    )
    assert result.completion_tokens > 0


@pytest.mark.model
def test_concurrent_streams_each_get_a_whole_answer(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str]
) -> None:
    def answer(endpoint: str) -> str:
        return "".join(
            model_endpoint.stream_chat(
                ChatCall(
                    TierTarget(endpoint), GREETING, max_tokens=8, temperature=0.0, timeout_s=MODEL_TIMEOUT_S
                )
            )
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(answer, [*model_endpoint_names, model_endpoint_names[0]]))

    assert len(set(answers)) == 1  # greedy, same prompt: same answer whichever tier and order
    assert answers[0].strip()


# --- errors, the way SageMaker answers them ---------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_an_unknown_endpoint_is_a_validation_error(sagemaker_runtime: Any, operation: str) -> None:
    with pytest.raises(ClientError) as failure:
        getattr(sagemaker_runtime, operation)(
            EndpointName="no-such-model", Body=CHAT_BODY, ContentType="application/json"
        )

    assert failure.value.response["Error"]["Code"] == "ValidationError"
    assert (
        failure.value.response["Error"]["Message"]
        == f"Endpoint no-such-model of account {ACCOUNT_ID} not found."
    )
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.model
@pytest.mark.parametrize("streaming", [False, True], ids=["chat", "stream_chat"])
def test_an_unknown_endpoint_is_model_unavailable(model_endpoint: SageMakerEndpoint, streaming: bool) -> None:
    call = model_endpoint.stream_chat if streaming else model_endpoint.chat

    with pytest.raises(ModelUnavailable, match="no-such-model of account") as failure:
        call(
            ChatCall(
                TierTarget("no-such-model"),
                GREETING,
                max_tokens=4,
                temperature=0.2,
                timeout_s=MODEL_TIMEOUT_S,
            )
        )

    assert failure.value.details == {"endpoint": "no-such-model", "reason": "ValidationError"}


@pytest.mark.model
@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "Invalid JSON"),
        (chat_body(messages=None), "messages: Field required"),
        (chat_body(messages=[]), "messages: List should have at least 1 item"),
        (chat_body(messages=[{"role": "wizard", "content": "hi"}]), "messages.0.role"),
        (chat_body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
        (chat_body(temperature=9), "temperature: Input should be less than or equal to 2"),
        (chat_body(top_q=1), "top_q: Extra inputs are not permitted"),
    ],
    ids=["not-json", "no-messages", "empty-messages", "bad-role", "zero-tokens", "too-hot", "unknown-field"],
)
def test_a_bad_body_is_a_validation_error(
    sagemaker_runtime: Any, model_endpoint_names: list[str], operation: str, body: bytes, problem: str
) -> None:
    with pytest.raises(ClientError) as failure:
        getattr(sagemaker_runtime, operation)(
            EndpointName=model_endpoint_names[0], Body=body, ContentType="application/json"
        )

    assert failure.value.response["Error"]["Code"] == "ValidationError"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert problem in failure.value.response["Error"]["Message"]


# --- failures, with a scripted engine (no model needed) ---------------------------------------


def chunk(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "scripted",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


class ScriptedEngine:
    """A `ChatEngine` that says its lines, can wait for a signal mid-answer, and can fail."""

    def __init__(
        self,
        lines: list[str],
        *,
        fail_after: int | None = None,
        pause_after_first: threading.Event | None = None,
    ) -> None:
        self.lines = lines
        self.fail_after = fail_after
        self.pause_after_first = pause_after_first
        self.resumed_in_time: bool | None = None

    def prompt_tokens(self, request: ChatRequest) -> int:
        return 3

    def complete(self, request: ChatRequest) -> dict[str, Any]:
        if self.fail_after is not None:
            raise RuntimeError("CUDA error: out of memory")
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(self.lines)}}],
            "usage": {
                "prompt_tokens": 3,
                "completion_tokens": len(self.lines),
                "total_tokens": 3 + len(self.lines),
            },
        }

    def stream(self, request: ChatRequest) -> Generator[dict[str, Any], None, None]:
        for index, line in enumerate(self.lines):
            if index == self.fail_after:
                raise RuntimeError("CUDA error: out of memory")
            yield chunk(line)
            if index == 0 and self.pause_after_first is not None:
                self.resumed_in_time = self.pause_after_first.wait(timeout=10)


class SlowStart(Faults):
    async def intercept(self, endpoint_name: str, operation: str) -> web.StreamResponse | None:
        await asyncio.sleep(2)
        return None


class RewriteFrames(Faults):
    def __init__(self, rewrite: Callable[[list[bytes]], list[bytes]]) -> None:
        self.rewrite = rewrite

    async def stream_frames(self, endpoint_name: str, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        for frame in self.rewrite([frame async for frame in frames]):
            yield frame


@pytest.fixture
def serve(fake_aws_credentials: None) -> ServerFactory:
    @contextmanager
    def serving(engine: ScriptedEngine, faults: Faults | None = None) -> Iterator[str]:
        with ModelServerThread(engine, [SCRIPTED], faults=faults) as url:
            yield url

    return serving


def test_the_first_delta_arrives_before_the_model_makes_the_second(serve: ServerFactory) -> None:
    # Given a model that waits, after its first chunk, until the caller has seen that chunk
    caller_saw_first = threading.Event()
    engine = ScriptedEngine(["Well ", "met."], pause_after_first=caller_saw_first)

    with serve(engine) as url:
        deltas = SageMakerEndpoint(endpoint_url=url).stream_chat(
            ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, temperature=0, timeout_s=20)
        )
        # When the caller reads the first delta
        assert next(deltas) == "Well "
        caller_saw_first.set()

        # Then the model was still waiting: nothing was buffered behind it
        assert list(deltas) == ["met."]
    assert engine.resumed_in_time is True


def test_a_model_that_fails_at_once_is_a_model_error(serve: ServerFactory) -> None:
    with serve(ScriptedEngine(["never"], fail_after=0)) as url:
        endpoint = SageMakerEndpoint(endpoint_url=url)
        for call in (endpoint.chat, endpoint.stream_chat):
            with pytest.raises(ModelUnavailable, match="out of memory") as failure:
                call(ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, temperature=0, timeout_s=20))
            assert failure.value.details["reason"] == "ModelError"


def test_a_model_that_fails_mid_stream_is_a_model_stream_error(serve: ServerFactory) -> None:
    with serve(ScriptedEngine(["one ", "two ", "three"], fail_after=2)) as url:
        deltas = SageMakerEndpoint(endpoint_url=url).stream_chat(
            ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, temperature=0, timeout_s=20)
        )

        assert [next(deltas), next(deltas)] == ["one ", "two "]
        with pytest.raises(ModelUnavailable, match="ModelStreamError") as failure:
            next(deltas)
    assert failure.value.details["reason"] == "ModelStreamError"


def test_a_slow_endpoint_times_out_as_model_unavailable(serve: ServerFactory) -> None:
    with serve(ScriptedEngine(["late"]), SlowStart()) as url:
        endpoint = SageMakerEndpoint(endpoint_url=url)
        for call in (endpoint.chat, endpoint.stream_chat):
            with pytest.raises(ModelUnavailable, match="Read timeout") as failure:
                call(ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, temperature=0, timeout_s=0.3))
            assert failure.value.details["reason"] == "ReadTimeoutError"
            assert failure.value.__cause__ is None
            assert failure.value.__suppress_context__


@pytest.mark.parametrize(
    ("rewrite", "reason"),
    [
        (lambda frames: frames[:-1], "StreamCut"),
        (
            lambda frames: [frames[0], b"\x00\x00\x00\x20garbage-garbage-garbage!", *frames[1:]],
            "ChecksumMismatch",
        ),
    ],
    ids=["cut-before-done", "garbage-bytes"],
)
def test_a_broken_stream_is_model_unavailable(
    serve: ServerFactory, rewrite: Callable[[list[bytes]], list[bytes]], reason: str
) -> None:
    with serve(ScriptedEngine(["one ", "two"]), RewriteFrames(rewrite)) as url:
        deltas = SageMakerEndpoint(endpoint_url=url).stream_chat(
            ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, temperature=0, timeout_s=20)
        )
        with pytest.raises(ModelUnavailable) as failure:
            list(deltas)
    assert failure.value.details["reason"] == reason


def test_nothing_listening_is_model_unavailable(fake_aws_credentials: None) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
    endpoint = SageMakerEndpoint(endpoint_url=url, connect_timeout_s=0.5)

    with pytest.raises(ModelUnavailable, match="Could not connect") as failure:
        endpoint.stream_chat(
            ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, temperature=0, timeout_s=1)
        )
    assert failure.value.details["reason"] == "EndpointConnectionError"


def test_a_body_over_six_megabytes_is_refused(serve: ServerFactory) -> None:
    huge = chat_body(messages=[{"role": "user", "content": "a" * (6 * 1024 * 1024)}])

    with serve(ScriptedEngine(["never"])) as url:
        client = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1")
        with pytest.raises(ClientError) as failure:
            client.invoke_endpoint(EndpointName=SCRIPTED, Body=huge, ContentType="application/json")

    assert failure.value.response["Error"]["Code"] == "ValidationError"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


class GatedEngine(ScriptedEngine):
    """Holds each answer until released, and remembers how many it started."""

    def __init__(self) -> None:
        super().__init__(["Well ", "met."])
        self.release = threading.Event()
        self.started = 0

    def stream(self, request: ChatRequest) -> Generator[dict[str, Any], None, None]:
        self.started += 1
        self.release.wait(timeout=30)
        yield from super().stream(request)


def test_a_full_queue_throttles_at_once_and_a_late_request_is_never_started(
    fake_aws_credentials: None,
) -> None:
    # Given a model busy with one answer, and room for one more to wait
    engine = GatedEngine()
    queue = ModelQueue(max_waiting=1)
    with ModelServerThread(engine, [SCRIPTED], queue=queue) as url, ThreadPoolExecutor(4) as pool:
        endpoint = SageMakerEndpoint(endpoint_url=url)

        def ask(deadline: float | None) -> str:
            call = ChatCall(TierTarget(SCRIPTED), GREETING, max_tokens=8, timeout_s=30, deadline=deadline)
            return "".join(endpoint.stream_chat(call))

        busy = pool.submit(ask, None)
        eventually(lambda: engine.started == 1, timeout_s=30, what="the first answer under way")
        late = pool.submit(ask, time.time() - 1)  # its caller has already given up
        eventually(
            lambda: queue.stats.throttled == 0 and _waiting(queue) == 1, timeout_s=30, what="one waits"
        )
        # When one more comes while the queue is full
        with pytest.raises(ModelUnavailable) as throttled:
            ask(None)
        # Then it is refused at once, so the router can fall back now
        assert throttled.value.details["reason"] == "ThrottlingException"
        engine.release.set()
        assert busy.result(timeout=30) == "Well met."
        # And the late one was dropped without the model ever starting it
        with pytest.raises(ModelUnavailable):
            late.result(timeout=30)
    assert engine.started == 1
    assert queue.stats.dropped_past_deadline == 1


def _waiting(queue: ModelQueue) -> int:
    return queue._waiting
