"""The storyteller: a world's story arcs advance as the world changes.

The director is told of the world's events (`World Fact Changed`, `Weather Changed`) and visits
every world on a schedule (for beats that wait for a time of day, a season, a day). At each, it
reads the world's state (one Query: definition with its arcs, clock, facts, each arc's progress)
and checks each arc's next beat against it. A beat whose condition holds is narrated (silver
through the router, gold if silver cannot, the beat's scripted line if no tier answers or the
answer is empty or too long) and recorded with its `Story Beat` event (an outbox entry) in one
conditional write on the arc's version: two deliveries racing reach it once. The event then goes
on the bus. The beat's fact changes go through the facts' own path (versioned, one `World Fact
Changed` each, once per beat and key), which may set off the arc's next beat: an event advances an
arc by one beat at most, and an arc has finitely many, so a cascade ends.

Redelivery: an arc keeps the ids of the last events that advanced it, so the same event told twice
advances it once; fact changes a director left unmade (it died after the write) are made at the
arc's next visit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.clock import Clock, now, stamp
from aicore.errors import NotFound
from aicore.events import EventPublisher
from aicore.llm.router import ModelRequest
from aicore.llm.tiers import SCRIPTED, SILVER_BUDGET_MS
from aicore.llm.wire import ChatMessage
from aicore.observability import logger
from aicore.topology import STORY_BEAT
from aicore.world.arcs import ArcProgress, ReachedBeat, holds
from aicore.world.clock import SECONDS_PER_HOUR, SECONDS_PER_MINUTE, ClockReading, ClockState, read_clock
from aicore.world.content import ArcSpec, BeatSpec
from aicore.world.definition import WorldDefinition
from aicore.world.events import OutboxEntry, StoryBeat, WorldEvent, send_or_leave
from aicore.world.facts import FactChangeRequested, FactDeps, FactStore, apply_requested_change
from aicore.world.narration import Router
from aicore.world.state import StoredState
from aicore.world.weather import region_weather

STORYTELLER = "storyteller"  # who the beats' fact changes are made by
MAX_TOKENS = 120  # one to three sentences
MAX_NARRATION_CHARS = 700  # a longer answer is not a beat's narration: the scripted line is told
MAX_IDENTIFIER = 128
ATTEMPTS = 3  # an arc another delivery advanced first is read again, then tried again
SYSTEM_PROMPT = (
    "You are the storyteller of a fantasy game world. In one to three sentences of vivid "
    "present-tense prose, tell the moment of the story described in the notes. No lists, no "
    "headings, no dialogue, nothing that is not in the notes."
)


class StoryStore(FactStore, Protocol):
    def advance_arc(
        self, world_id: str, progress: ArcProgress, expected_version: int, entry: OutboxEntry
    ) -> bool:
        """Store the arc's progress if it is still at `expected_version` (0: none yet), with the
        beat's event in the outbox, in one transaction. False: another delivery got there first."""
        ...

    def settle_arc(self, world_id: str, progress: ArcProgress, expected_version: int) -> bool:
        """Store the progress (its pending fact changes made) if still at `expected_version`."""
        ...


@dataclass
class StoryDeps:
    store: StoryStore
    events: EventPublisher
    router: Router
    time: Clock = now


@dataclass(frozen=True)
class Trigger:
    """What set the director off: a world event, or the schedule (`clock:<game minute>`)."""

    trigger_id: str
    event: WorldEvent | None = None


class ArcOutcome(StrEnum):
    ADVANCED = "advanced"
    WAITING = "waiting"  # the next beat's condition does not hold
    DONE = "done"  # every beat happened
    DUPLICATE = "duplicate"  # this trigger advanced the arc before (a redelivery)
    RACED = "raced"  # other deliveries kept advancing it first


class DirectorReport(BaseModel):
    world_id: str
    trigger_id: str
    beats: list[str]  # event ids of the Story Beats told now
    arcs: dict[str, ArcOutcome]


def direct_event(deps: StoryDeps, event: WorldEvent) -> DirectorReport:
    return direct(deps, event.world_id, Trigger(event.event_id, event), event.correlation_id)


def direct_all(deps: StoryDeps, worlds: list[str], correlation_id: str) -> list[DirectorReport]:
    """The schedule's visit: every world, with the game minute as the trigger (beats waiting for a
    time, and fact changes a director left unmade)."""
    reports = []
    for world_id in worlds:
        try:
            reports.append(direct(deps, world_id, None, correlation_id))
        except Exception:  # one world's failure never stops the others' stories
            logger.exception("Storyteller visit failed", extra={"world_id": world_id})
    return reports


def direct(deps: StoryDeps, world_id: str, trigger: Trigger | None, correlation_id: str) -> DirectorReport:
    """Advance each of the world's arcs whose next beat holds now (one beat per arc at most)."""
    stored = deps.store.state(world_id)
    definition = stored.definition
    if definition is None or not definition.arcs:
        return DirectorReport(
            world_id=world_id, trigger_id=trigger.trigger_id if trigger else "", beats=[], arcs={}
        )
    if trigger is None:
        minute = int(_clock(stored, definition).game_seconds(deps.time().timestamp())) // SECONDS_PER_MINUTE
        trigger = Trigger(f"clock:{minute}")
    beats: list[str] = []
    outcomes: dict[str, ArcOutcome] = {}
    for arc in definition.arcs:
        outcome, told = _advance(deps, stored, arc, trigger, correlation_id)
        outcomes[arc.arc_id] = outcome
        beats += [told] if told else []
    if beats:
        logger.info(
            "Story advanced", extra={"world_id": world_id, "beats": beats, "trigger": trigger.trigger_id}
        )
    return DirectorReport(world_id=world_id, trigger_id=trigger.trigger_id, beats=beats, arcs=outcomes)


def _advance(
    deps: StoryDeps, stored: StoredState, arc: ArcSpec, trigger: Trigger, correlation_id: str
) -> tuple[ArcOutcome, str | None]:
    definition = stored.definition
    assert definition is not None
    world_id = definition.world_id
    progress = stored.arcs.get(arc.arc_id) or ArcProgress(arc_id=arc.arc_id)
    for _ in range(ATTEMPTS):
        if progress.pending and not _settle(deps, world_id, progress, correlation_id):
            stored = deps.store.state(world_id)
            progress = stored.arcs.get(arc.arc_id) or ArcProgress(arc_id=arc.arc_id)
            continue
        if progress.pending:
            progress = progress.settled()
        if trigger.trigger_id in progress.triggers:
            return ArcOutcome.DUPLICATE, None
        beat = progress.next_beat(arc)
        if beat is None:
            return ArcOutcome.DONE, None
        real = deps.time().timestamp()
        clock = read_clock(definition.world.calendar, _clock(stored, definition), real)
        if not holds(beat.when, stored.facts, clock, trigger.event):
            return ArcOutcome.WAITING, None
        text, tier = _narrate(deps.router, definition, arc, progress, beat, clock)
        reached = ReachedBeat(
            beat_id=beat.beat_id,
            narration=text,
            tier=tier,
            game_time=clock.game_time,
            day=clock.day,
            hour=clock.hour,
            minute=clock.minute,
            part_of_day=clock.part_of_day,
            season=clock.season,
            reached_at=stamp(deps.time()),
            trigger_id=trigger.trigger_id,
        )
        advanced = progress.advanced(reached, beat.sets)
        event = _story_beat(world_id, correlation_id, arc, beat, advanced, reached)
        entry = OutboxEntry.of(STORY_BEAT, event, real)
        if deps.store.advance_arc(world_id, advanced, progress.version, entry):
            send_or_leave(deps.events, deps.store, world_id, entry)
            if advanced.pending:
                _settle(deps, world_id, advanced, correlation_id)
            return ArcOutcome.ADVANCED, event.event_id
        stored = deps.store.state(world_id)  # another delivery advanced it first: look again
        progress = stored.arcs.get(arc.arc_id) or ArcProgress(arc_id=arc.arc_id)
    return ArcOutcome.RACED, None


def _settle(deps: StoryDeps, world_id: str, progress: ArcProgress, correlation_id: str) -> bool:
    """Make the last beat's fact changes (each once, however often this runs), then record them made.
    False: the progress moved on meanwhile (read it again)."""
    facts = FactDeps(deps.store, deps.events, deps.time)
    for index, change in enumerate(progress.pending):
        request = FactChangeRequested(
            world_id=world_id,
            correlation_id=correlation_id,
            request_id=_request_id(progress, index),
            key=change.key,
            value=change.value,
            region=change.region,
            game_server=STORYTELLER,
        )
        apply_requested_change(facts, request)
    return deps.store.settle_arc(world_id, progress.settled(), progress.version)


def _request_id(progress: ArcProgress, index: int) -> str:
    """The id a beat's fact change is made once under (the facts' request markers)."""
    readable = f"story:{progress.arc_id}:{progress.pending_beat}:{index}"
    if len(readable) <= MAX_IDENTIFIER:
        return readable
    return f"story:{hashlib.sha256(readable.encode()).hexdigest()[:40]}:{index}"


def _clock(stored: StoredState, definition: WorldDefinition) -> ClockState:
    return stored.clock or ClockState.starting(definition.world.clock)


def _story_beat(
    world_id: str,
    correlation_id: str,
    arc: ArcSpec,
    beat: BeatSpec,
    progress: ArcProgress,
    reached: ReachedBeat,
) -> StoryBeat:
    return StoryBeat(
        world_id=world_id,
        correlation_id=correlation_id,
        event_id=f"story:{arc.arc_id}:{beat.beat_id}",
        arc_id=arc.arc_id,
        arc_title=arc.title,
        beat_id=beat.beat_id,
        beat_title=beat.title,
        beat=len(progress.reached),
        beats=len(arc.beats),
        region=beat.region,
        narration=reached.narration,
        narration_source="scripted" if reached.tier == SCRIPTED else "model",
        tier=reached.tier,
        game_time=reached.game_time,
        day=reached.day,
        part_of_day=reached.part_of_day,
        season=reached.season,
        trigger_id=reached.trigger_id,
        version=progress.version,
    )


def _narrate(
    router: Router,
    definition: WorldDefinition,
    arc: ArcSpec,
    progress: ArcProgress,
    beat: BeatSpec,
    clock: ClockReading,
) -> tuple[str, str]:
    """The beat told by silver (gold if silver cannot); its scripted line when no tier answers, or
    the answer is empty, cut off or too long. Returns the text and who wrote it."""
    request = ModelRequest(
        messages=[
            ChatMessage(role="system", content=SYSTEM_PROMPT),
            ChatMessage(role="user", content=_notes(definition, arc, progress, beat, clock)),
        ],
        first_token_budget_ms=SILVER_BUDGET_MS,
        max_tokens=MAX_TOKENS,
        temperature=0.8,
    )
    completion = router.stream(request, lambda _: None, lambda: beat.narration)
    text = " ".join(completion.text.split())
    if completion.tier == SCRIPTED or not text or completion.truncated or len(text) > MAX_NARRATION_CHARS:
        return beat.narration, SCRIPTED
    return text, completion.tier


def _notes(
    definition: WorldDefinition, arc: ArcSpec, progress: ArcProgress, beat: BeatSpec, clock: ClockReading
) -> str:
    world = definition.world
    lines = [f"World: {world.name}.", f"Story: {arc.title}. {arc.description}".rstrip()]
    if progress.reached:
        lines.append(f"Before: {progress.reached[-1].narration[:300]}")
    lines.append(f"Now: {beat.prompt or beat.narration}")
    region = definition.region(beat.region) if beat.region else None
    if region is not None:
        weather = region_weather(definition, region).at(clock.game_time // SECONDS_PER_HOUR)
        lines.append(f"Place: {region.name}; the weather: {weather.condition.value}.")
    lines.append(f"Time: {clock.part_of_day}, day {clock.day_of_season} of {clock.season}.")
    return "\n".join(lines)


# --- GET /worlds/{world}/story ------------------------------------------------------------------


class GameMoment(BaseModel):
    game_time: int
    day: int
    hour: int
    minute: int
    part_of_day: str
    season: str


class BeatTold(BaseModel):
    beat_id: str
    title: str | None
    region: str | None
    narration: str
    source: str  # model | scripted
    tier: str
    at: GameMoment  # when in the game
    reached_at: str  # when in real time


class NextBeat(BaseModel):
    """The beat the arc waits for (what it waits for stays the studio's: no spoilers)."""

    beat_id: str
    title: str | None
    beat: int  # its place: 1, 2, …


class ArcView(BaseModel):
    arc_id: str
    title: str
    description: str
    beats: int
    completed: bool
    current_beat: NextBeat | None  # None: every beat happened
    reached: list[BeatTold]
    version: int


class StoryView(BaseModel):
    """`GET /worlds/{world}/story`: each arc, the beat it waits for, the beats told so far."""

    world_id: str
    arcs: list[ArcView]


class StateReader(Protocol):
    def state(self, world_id: str) -> StoredState: ...


def read_story(store: StateReader, caller: Caller, world_id: str) -> StoryView:
    """Anyone of the world reads its story so far (one Query)."""
    caller.require_world(world_id)
    stored = store.state(world_id)
    if stored.definition is None:
        raise NotFound(
            f"There is no world '{world_id}' here: push its content first (aicore world push).",
            {"world_id": world_id},
        )
    return StoryView(world_id=world_id, arcs=[_arc_view(arc, stored) for arc in stored.definition.arcs])


def _arc_view(arc: ArcSpec, stored: StoredState) -> ArcView:
    progress = stored.arcs.get(arc.arc_id) or ArcProgress(arc_id=arc.arc_id)
    specs = {b.beat_id: b for b in arc.beats}
    told = []
    for reached in progress.reached:
        spec = specs.get(reached.beat_id)
        told.append(
            BeatTold(
                beat_id=reached.beat_id,
                title=spec.title if spec else None,
                region=spec.region if spec else None,
                narration=reached.narration,
                source="scripted" if reached.tier == SCRIPTED else "model",
                tier=reached.tier,
                at=GameMoment.model_validate(reached.model_dump()),
                reached_at=reached.reached_at,
            )
        )
    following = progress.next_beat(arc)
    return ArcView(
        arc_id=arc.arc_id,
        title=arc.title,
        description=arc.description,
        beats=len(arc.beats),
        completed=following is None,
        current_beat=None
        if following is None
        else NextBeat(beat_id=following.beat_id, title=following.title, beat=len(progress.reached) + 1),
        reached=told,
        version=progress.version,
    )
