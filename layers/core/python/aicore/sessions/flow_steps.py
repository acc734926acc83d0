"""The contract between the tier flows (`state_machines/session-*.asl.json`) and their Lambda steps.

Each task of a flow invokes one function with `{"step": ..., ...}`; the step runs one
`aicore.sessions.tiers.Tiering` method and returns its outcome, which the flow's Choice states read.
The steps that move a session's tier carry the flow's execution (`"mover.$": "$$.Execution.Id"`):
a step Step Functions runs again finds the move it made and answers as it did the first time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from aicore.flows import FlowStarter
from aicore.sessions.events import SessionRehydrationRequested
from aicore.sessions.tiers import Tiering
from aicore.topology import SESSION_REHYDRATE_FLOW


class _Step(BaseModel):
    session_id: str = Field(min_length=1, max_length=128)


class _Move(_Step):
    mover: str = Field(min_length=1, max_length=256)  # the flow's execution ARN


class Freeze(_Move):
    step: Literal["freeze"]
    active_before: str | None = None  # None: now (suspended), else only if still dormant


class Upload(_Step):
    step: Literal["upload"]


class Seal(_Step):
    step: Literal["seal"]
    archive_key: str


class Thaw(_Move):
    step: Literal["thaw"]


class Claim(_Move):
    step: Literal["claim"]


class Restore(_Move):
    step: Literal["restore"]
    archive_key: str


class Discard(_Step):
    step: Literal["discard"]
    archive_key: str


class Release(_Move):
    step: Literal["release"]


ArchiveStep = Annotated[Freeze | Upload | Seal | Thaw, Field(discriminator="step")]
RehydrateStep = Annotated[Claim | Restore | Discard | Release, Field(discriminator="step")]
archive_step: TypeAdapter[ArchiveStep] = TypeAdapter(ArchiveStep)
rehydrate_step: TypeAdapter[RehydrateStep] = TypeAdapter(RehydrateStep)


class Discarded(BaseModel):
    archive_key: str


class RehydrationStarted(BaseModel):
    session_id: str
    execution_arn: str
    started: bool


def run_archive_step(tiering: Tiering, step: ArchiveStep) -> BaseModel:
    match step:
        case Freeze():
            return tiering.freeze(step.session_id, step.active_before, step.mover)
        case Upload():
            return tiering.upload(step.session_id)
        case Seal():
            return tiering.seal(step.session_id, step.archive_key)
        case Thaw():
            return tiering.thaw(step.session_id, step.mover)


def run_rehydrate_step(tiering: Tiering, step: RehydrateStep) -> BaseModel:
    match step:
        case Claim():
            return tiering.claim(step.session_id, step.mover)
        case Restore():
            return tiering.restore(step.session_id, step.archive_key, step.mover)
        case Discard():
            tiering.discard(step.archive_key)
            return Discarded(archive_key=step.archive_key)
        case Release():
            return tiering.release(step.session_id, step.mover)


def start_rehydration(flows: FlowStarter, request: SessionRehydrationRequested) -> RehydrationStarted:
    """One rehydrate flow per archive object, however many reads ask for it."""
    archive_name = request.archive_key.rsplit("/", 1)[-1].split(".", 1)[0]
    name = f"{request.session_id}-rehydrate-{''.join(c for c in archive_name if c.isalnum())}"[:80]
    started = flows.start(SESSION_REHYDRATE_FLOW, name, {"session_id": request.session_id})
    return RehydrationStarted(
        session_id=request.session_id, execution_arn=started.execution_arn, started=started.started
    )
