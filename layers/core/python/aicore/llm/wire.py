"""The wire contract of a model endpoint: an OpenAI-style chat body in, chat completions out.

Both sides use it: `SageMakerEndpoint` writes requests and reads answers with these models, and
the local model server validates requests and writes answers with the same ones. A streamed
answer is server-sent events (`data: {chat.completion.chunk}`), ending with `data: [DONE]`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]

SSE_DONE = "[DONE]"


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False  # a last chunk, with no choices, carries the token counts


class ChatRequest(BaseModel):
    """The body of `InvokeEndpoint` and `InvokeEndpointWithResponseStream`."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int = Field(ge=1, le=8192)
    temperature: float = Field(ge=0.0, le=2.0)
    stream: bool = False
    stream_options: StreamOptions | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Choice(BaseModel):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(BaseModel):
    """The answer of `InvokeEndpoint`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice] = Field(min_length=1)
    usage: Usage


class Delta(BaseModel):
    role: Role | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None  # only on the last chunk, when the request asked for it

    @property
    def text(self) -> str:
        return "".join(choice.delta.content or "" for choice in self.choices)


def sse_event(data: str) -> bytes:
    """One server-sent event carrying `data` (a single line: JSON or `[DONE]`)."""
    return f"data: {data}\n\n".encode()


class SseDecoder:
    """Turns bytes that arrive in arbitrary pieces into the `data` of complete server-sent events.

    A piece may end anywhere: inside a line, inside a multi-byte character, between the two
    newlines that close an event. Lines are kept as bytes until complete, then decoded.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._data_lines: list[str] = []

    def feed(self, piece: bytes) -> list[str]:
        """Data of every event completed by `piece`, in order."""
        self._pending += piece
        *lines, self._pending = self._pending.split(b"\n")
        events: list[str] = []
        for raw_line in lines:
            event = self._take_line(raw_line.removesuffix(b"\r").decode())
            if event is not None:
                events.append(event)
        return events

    @property
    def has_partial_event(self) -> bool:
        """Whether bytes of an unfinished event are still waiting for the rest."""
        return bool(self._pending or self._data_lines)

    def _take_line(self, line: str) -> str | None:
        if not line:
            return self._dispatch()
        field, _, value = line.partition(":")
        if field == "data":
            self._data_lines.append(value.removeprefix(" "))
        return None  # comments (":...") and other fields (event, id, retry) carry no text

    def _dispatch(self) -> str | None:
        if not self._data_lines:
            return None
        data = "\n".join(self._data_lines)
        self._data_lines = []
        return data
