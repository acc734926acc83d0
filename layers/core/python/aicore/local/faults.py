"""Fault injection for the local model server: the ways a real endpoint fails, on demand, per endpoint.

A `FaultPlan` is the model server's `Faults` hook. Tests set faults directly; a running
`aicore local` takes them over HTTP on the model server (`/_aicore/faults`, local only):

    curl -X POST localhost:8081/_aicore/faults -d '{"endpoint": "aicore-local-gold", "kind": "throttling"}'
    curl localhost:8081/_aicore/faults                     # what is in force, with its hits
    curl -X DELETE localhost:8081/_aicore/faults           # all; ?endpoint=NAME for one

The body is one `Fault`: `endpoint` (an endpoint the server serves), `kind` (a `FaultKind`),
optional `times` (calls it hits before it heals; default: until cleared), `delay_s` (stall,
slow, stall_mid_stream; default 5), `after_chunks` (cut, garbage, stall_mid_stream; default
1), and for `scripted` the `reply` the model gives instead of its own (streamed word by word)
and, optionally, `prompt_contains` (only requests whose messages contain it, e.g. one NPC's
name: a persona that breaks on demand, for the QA checks). Anything else is refused with 400 and
a message that lists what is accepted.

Each fault answers the way SageMaker Runtime does, so the client code under test sees exactly
what it would see in the cloud: botocore errors with their real codes, event streams that end
early, stall, or carry bytes that are not an event stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aicore.llm.wire import ChatRequest
from aicore.local.model_server import Faults, SageMakerApiError, json_response

ADMIN_PATH = "/_aicore/faults"
# Bytes that cannot start an event-stream message: the prelude's checksum does not match.
GARBAGE = b"\x00\x00\x00\x20garbage-garbage-garbage!"


class FaultKind(StrEnum):
    STALL = "stall"  # says nothing for `delay_s`, then fails (the caller has timed out by then)
    SLOW = "slow"  # waits `delay_s`, then answers normally: a slow, not a dead, model
    MODEL_ERROR = "model_error"  # 424 ModelError: the container answered 500
    INTERNAL_FAILURE = "internal_failure"  # 500 InternalFailure from SageMaker itself
    THROTTLING = "throttling"  # 400 ThrottlingException: too many requests
    CUT = "cut"  # the stream ends after `after_chunks` chunks, without [DONE]
    GARBAGE = "garbage"  # after `after_chunks` chunks, bytes that are no event-stream message
    STALL_MID_STREAM = "stall_mid_stream"  # after `after_chunks` chunks, silence for `delay_s`
    SCRIPTED = "scripted"  # the model answers `reply` (to requests that contain `prompt_contains`)


INTERCEPTING = {
    FaultKind.STALL,
    FaultKind.SLOW,
    FaultKind.MODEL_ERROR,
    FaultKind.INTERNAL_FAILURE,
    FaultKind.THROTTLING,
}


class Fault(BaseModel):
    """One fault on one endpoint. `times`: how many calls it hits before it heals (None: until cleared)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(min_length=1)
    kind: FaultKind
    times: int | None = Field(default=None, ge=1)
    delay_s: float = Field(default=5.0, ge=0, le=600)
    after_chunks: int = Field(default=1, ge=0)
    reply: str | None = Field(default=None, min_length=1, max_length=4000)
    prompt_contains: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _reply_only_when_scripted(self) -> Fault:
        if (self.kind is FaultKind.SCRIPTED) != (self.reply is not None):
            raise ValueError("reply is required with kind scripted, and only then")
        if self.prompt_contains is not None and self.kind is not FaultKind.SCRIPTED:
            raise ValueError("prompt_contains goes only with kind scripted")
        return self


@dataclass
class _Active:
    fault: Fault
    hits: int = 0


@dataclass
class FaultPlan(Faults):
    """The faults in force, by endpoint name; thread-safe (tests set them from another thread)."""

    _active: dict[str, _Active] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._active[fault.endpoint] = _Active(fault)

    def clear(self, endpoint: str | None = None) -> None:
        with self._lock:
            if endpoint is None:
                self._active.clear()
            else:
                self._active.pop(endpoint, None)

    def hits(self, endpoint: str) -> int:
        with self._lock:
            active = self._active.get(endpoint)
            return active.hits if active else 0

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {**active.fault.model_dump(mode="json"), "hits": active.hits}
                for active in self._active.values()
            ]

    def _take(self, endpoint: str, kinds: set[FaultKind]) -> Fault | None:
        """The endpoint's fault if it is one of `kinds`, counting the hit (and healing after `times`)."""
        with self._lock:
            active = self._active.get(endpoint)
            if active is None or active.fault.kind not in kinds:
                return None
            active.hits += 1
            if active.fault.times is not None and active.hits >= active.fault.times:
                del self._active[endpoint]
            return active.fault

    async def intercept(self, endpoint_name: str, operation: str) -> web.StreamResponse | None:
        fault = self._take(endpoint_name, INTERCEPTING)
        if fault is None:
            return None
        if fault.kind in (FaultKind.STALL, FaultKind.SLOW):
            await asyncio.sleep(fault.delay_s)
            if fault.kind is FaultKind.SLOW:
                return None
            raise SageMakerApiError(
                424,
                "ModelError",
                "Received server error (0) from primary: the model did not answer in time.",
                OriginalStatusCode=0,
            )
        if fault.kind is FaultKind.THROTTLING:
            raise SageMakerApiError(400, "ThrottlingException", "Rate exceeded")
        if fault.kind is FaultKind.INTERNAL_FAILURE:
            raise SageMakerApiError(500, "InternalFailure", "An internal failure occurred.")
        raise SageMakerApiError(
            424,
            "ModelError",
            'Received server error (500) from primary with message "CUDA error: an illegal memory access".',
            OriginalStatusCode=500,
            OriginalMessage="CUDA error: an illegal memory access",
        )

    def scripted_reply(self, endpoint_name: str, chat: ChatRequest) -> str | None:
        wanted = self._peek(endpoint_name, FaultKind.SCRIPTED)
        if wanted is None or wanted.reply is None:
            return None
        if wanted.prompt_contains is not None and not any(
            wanted.prompt_contains in message.content for message in chat.messages
        ):
            return None
        taken = self._take(endpoint_name, {FaultKind.SCRIPTED})
        return taken.reply if taken is not None else None

    def _peek(self, endpoint: str, kind: FaultKind) -> Fault | None:
        with self._lock:
            active = self._active.get(endpoint)
            return active.fault if active is not None and active.fault.kind is kind else None

    def stream_frames(self, endpoint_name: str, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        fault = self._take(endpoint_name, {FaultKind.CUT, FaultKind.GARBAGE, FaultKind.STALL_MID_STREAM})
        return frames if fault is None else _broken(fault, frames)


async def _broken(fault: Fault, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    sent = 0
    async for frame in frames:
        if sent == fault.after_chunks:
            if fault.kind is FaultKind.CUT:
                return
            if fault.kind is FaultKind.GARBAGE:
                yield GARBAGE
                return
            await asyncio.sleep(fault.delay_s)  # STALL_MID_STREAM, then the rest
        yield frame
        sent += 1


def admin_routes(plan: FaultPlan, endpoints: Iterable[str] | None = None) -> list[web.RouteDef]:
    """`GET|POST|DELETE /_aicore/faults`: list, set (one `Fault` as JSON) and clear faults.

    With `endpoints`, a fault for any other endpoint is refused (400).
    """
    known = sorted(endpoints) if endpoints is not None else None
    accepted = f"Kinds: {', '.join(kind.value for kind in FaultKind)}." + (
        f" Endpoints: {', '.join(known)}." if known is not None else ""
    )

    async def listing(_: web.Request) -> web.Response:
        return json_response({"faults": plan.describe()}, headers={})

    async def set_fault(request: web.Request) -> web.Response:
        try:
            fault = Fault.model_validate_json(await request.read())
        except ValidationError as error:
            raise SageMakerApiError(400, "ValidationError", f"{_problems(error)} {accepted}") from None
        if known is not None and fault.endpoint not in known:
            raise SageMakerApiError(400, "ValidationError", f"endpoint: no such endpoint here. {accepted}")
        plan.inject(fault)
        return json_response({"fault": fault.model_dump(mode="json")}, headers={})

    async def clear(request: web.Request) -> web.Response:
        plan.clear(request.query.get("endpoint"))
        return json_response({"faults": plan.describe()}, headers={})

    return [web.get(ADMIN_PATH, listing), web.post(ADMIN_PATH, set_fault), web.delete(ADMIN_PATH, clear)]


def _problems(error: ValidationError) -> str:
    """What is wrong with a fault, field by field, without echoing the input."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)[:5]
    ]
    return "Invalid fault: " + "; ".join(problems) + "."
