"""A quest's life: offered by its giver, accepted (its flow starts), progressed by a game server's
objective reports, completed by its flow (rewards, the giver's feelings) or abandoned.

Every transition is a write conditional on the quest's version, so two writers never both win;
every step may be told twice and answers the same (accept twice: the same quest; a report id once).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict, Forbidden, NotFound
from aicore.events import EventDetail, EventPublisher
from aicore.flows import FlowStarter
from aicore.inputs import Identifier
from aicore.mind.emotions import NEUTRAL, Emotion, EmotionState
from aicore.mind.policy import MindPolicy
from aicore.mind.relationship import Relationship, RelationshipChange
from aicore.observability import logger
from aicore.quests.generation import GenerationDeps, Known, generate
from aicore.quests.models import (
    Quest,
    QuestAbandoned,
    QuestAccepted,
    QuestCompleted,
    QuestEvent,
    QuestList,
    QuestOffer,
    QuestOffered,
    QuestProgressed,
    QuestRewardGranted,
    QuestState,
    QuestView,
    from_template,
)
from aicore.quests.store import FlowSignals, QuestStore, TemplateSource
from aicore.topology import (
    QUEST_ABANDONED,
    QUEST_ACCEPTED,
    QUEST_COMPLETED,
    QUEST_LIFE_FLOW,
    QUEST_OFFERED,
    QUEST_PROGRESSED,
    QUEST_REWARD_GRANTED,
    QUEST_SOURCE,
)
from aicore.world.content import ObjectiveKind
from aicore.world.facts import FactChangeRequested, FactDeps, apply_requested_change
from aicore.world.now import world_now
from aicore.world.state import WorldStateStore
from aicore.world.store import Feeling, WorldStore

REPORTERS = (Role.GAME_SERVER, Role.STUDIO, Role.ADMIN)
SAVE_ATTEMPTS = 4  # writers that raced on a quest's version read it again
QUEST_JOY = 0.3  # how much a finished quest gladdens its giver (the mind's 0..1 intensity)


class Outcome(BaseModel):
    """What the quest's flow is told when its task token is sent."""

    outcome: str  # progressed | complete | abandoned | expired
    remaining_s: int = Field(ge=1)  # until the deadline: the next wait's timeout


@dataclass
class QuestDeps:
    store: QuestStore
    events: EventPublisher
    flows: FlowStarter
    signals: FlowSignals
    clock: Clock = now


def new_quest_id() -> str:
    return f"q-{secrets.token_hex(10)}"


# --- offers (the `quest-offers` consumer of NPC Turn Completed) -------------------------------


@dataclass
class OfferDeps:
    store: QuestStore
    templates: TemplateSource
    world: WorldStore
    state: WorldStateStore
    generation: GenerationDeps | None  # None: the template as written (QUEST_WRITER=template)
    events: EventPublisher
    clock: Clock = now


def prepare_offer(
    deps: OfferDeps, world_id: str, npc_id: str, player_id: str, correlation_id: str
) -> QuestOffer | None:
    """The quest `npc_id` has ready for `player_id`: the one already prepared, or a new one from the
    first of its templates the player never had (written for them by the model if it can), or None."""
    if (ready := deps.store.offered(world_id, npc_id, player_id)) is not None:
        return ready
    templates = deps.templates.quest_templates(world_id)
    had = {q.template_id for q in deps.store.player_quests(world_id, player_id)}
    template = next((t for t in templates if t.giver == npc_id and t.template_id not in had), None)
    npc, _ = deps.world.npc_and_memory(world_id, npc_id, player_id)
    if template is None or npc is None:
        return None
    moment = deps.clock()
    stored = deps.state.state(world_id)
    seen = world_now(stored, npc.region, moment.timestamp())
    regions = stored.definition.region_ids if stored.definition else ()
    known = Known.of(regions, [n.npc_id for n in deps.world.list_npcs(world_id)], templates)
    base = from_template(template, new_quest_id(), world_id, player_id, stamp(moment))
    lines = seen.prompt_lines() if seen else []
    quest = base if deps.generation is None else generate(deps.generation, npc, template, known, lines, base)
    if not deps.store.put_offer(quest):
        return deps.store.offered(world_id, npc_id, player_id)  # another delivery was first
    _publish(
        deps.events,
        QUEST_OFFERED,
        QuestOffered,
        quest,
        correlation_id,
        "offered",
        source=quest.source,
        title=quest.title,
    )
    return quest.offer()


# --- the player's routes -------------------------------------------------------------------------


def list_quests(store: QuestStore, caller: Caller) -> QuestList:
    quests = store.player_quests(caller.world_id, caller.subject)
    return QuestList(quests=[q.view() for q in sorted(quests, key=lambda q: q.offered_at, reverse=True)])


def _own(store: QuestStore, caller: Caller, quest_id: str) -> Quest:
    quest = store.quest(caller.world_id, caller.subject, quest_id)
    if quest is None:
        raise NotFound(
            "You have no quest with that id in this world: GET /players/me/quests lists yours.",
            {"quest_id": quest_id},
        )
    return quest


def accept(deps: QuestDeps, caller: Caller, quest_id: str, correlation_id: str) -> QuestView:
    """offered -> accepted, and the quest's flow starts (named by the quest: started once). Accepting
    an accepted quest answers it as it is (and makes sure its flow runs)."""
    for _ in range(SAVE_ATTEMPTS):
        quest = _own(deps.store, caller, quest_id)
        if quest.state is QuestState.ACCEPTED:
            _start_flow(deps, quest, correlation_id)
            return quest.view()
        if quest.state is not QuestState.OFFERED:
            raise Conflict(
                f"The quest is {quest.state.value}: only an offered quest can be accepted.",
                {"state": quest.state.value},
            )
        moment = deps.clock()
        accepted = quest.model_copy(
            update={
                "state": QuestState.ACCEPTED,
                "accepted_at": stamp(moment),
                "expires_at": stamp(moment + timedelta(days=quest.expires_after_days)),
                "version": quest.version + 1,
            }
        )
        if deps.store.save(accepted, quest.version, clear_offer=True):
            _start_flow(deps, accepted, correlation_id)
            assert accepted.expires_at is not None
            _publish(
                deps.events,
                QUEST_ACCEPTED,
                QuestAccepted,
                accepted,
                correlation_id,
                "accepted",
                expires_at=accepted.expires_at,
            )
            return accepted.view()
    raise Conflict("The quest changed while you accepted it: try again.", {"quest_id": quest_id})


def _start_flow(deps: QuestDeps, quest: Quest, correlation_id: str) -> None:
    deps.flows.start(
        QUEST_LIFE_FLOW,
        quest.quest_id,
        {
            "world_id": quest.world_id,
            "player_id": quest.player_id,
            "quest_id": quest.quest_id,
            "correlation_id": correlation_id,
            "timeout_s": _remaining_s(quest, deps.clock),
        },
    )


def abandon(deps: QuestDeps, caller: Caller, quest_id: str, correlation_id: str) -> QuestView:
    """offered or accepted -> abandoned; its flow is told and ends. Abandoning it again answers the same."""
    for _ in range(SAVE_ATTEMPTS):
        quest = _own(deps.store, caller, quest_id)
        if quest.state is QuestState.ABANDONED:
            _signal(deps.signals, quest, "abandoned", deps.clock)
            return quest.view()
        if quest.state is QuestState.COMPLETED:
            raise Conflict("The quest is completed: it cannot be abandoned.", {"state": quest.state.value})
        ended = _ended(quest, "abandoned", deps.clock)
        if deps.store.save(ended, quest.version, clear_offer=quest.state is QuestState.OFFERED):
            _signal(deps.signals, ended, "abandoned", deps.clock)
            _publish(
                deps.events,
                QUEST_ABANDONED,
                QuestAbandoned,
                ended,
                correlation_id,
                "abandoned",
                reason="abandoned",
            )
            return ended.view()
    raise Conflict("The quest changed while you abandoned it: try again.", {"quest_id": quest_id})


def _ended(quest: Quest, reason: str, clock: Clock) -> Quest:
    state = QuestState.COMPLETED if reason == "completed" else QuestState.ABANDONED
    return quest.model_copy(
        update={
            "state": state,
            "ended_at": stamp(clock()),
            "ended_reason": reason,
            "version": quest.version + 1,
        }
    )


# --- objective reports from game servers ----------------------------------------------------------


class ObjectiveReport(BaseModel):
    """`POST /worlds/{world}/players/{player}/objectives`: the player did `count` x `kind` on
    `target`. `report_id` makes it count once, however often it is sent."""

    model_config = ConfigDict(extra="forbid")

    report_id: Identifier
    kind: ObjectiveKind
    target: Identifier
    count: int = Field(1, ge=1, le=100)


class ObjectiveProgress(BaseModel):
    quest_id: str
    objective_id: str
    done: int
    count: int


class ReportResult(BaseModel):
    report_id: str
    progressed: list[ObjectiveProgress]  # every objective this report counted for (now or before)
    objectives_met: list[str]  # quests whose objectives are now all done (their flows complete them)


def report_objective(
    deps: QuestDeps,
    caller: Caller,
    world_id: str,
    player_id: str,
    report: ObjectiveReport,
    correlation_id: str,
) -> ReportResult:
    if not caller.has_any(*REPORTERS):
        raise Forbidden("Only the world's game servers, its studio or an admin report objectives.")
    caller.require_world(world_id)
    progressed: list[ObjectiveProgress] = []
    met: list[str] = []
    for quest in deps.store.player_quests(world_id, player_id):
        if quest.state is not QuestState.ACCEPTED or not _matches(quest, report):
            continue
        recorded = _record(deps, quest, report, correlation_id)
        progressed += [
            ObjectiveProgress(
                quest_id=recorded.quest_id, objective_id=o.objective_id, done=o.done, count=o.count
            )
            for o in recorded.objectives
            if o.kind is report.kind and o.target == report.target
        ]
        if recorded.objectives_met:
            met.append(recorded.quest_id)
        _signal(deps.signals, recorded, "complete" if recorded.objectives_met else "progressed", deps.clock)
    return ReportResult(report_id=report.report_id, progressed=progressed, objectives_met=met)


class ObjectiveReported(EventDetail):
    """`Quest Objective Reported` (source `aicore.game`): a game server's objective report through the
    bus, the same as `POST /worlds/{world}/players/{player}/objectives` (counted once per `report_id`)."""

    model_config = ConfigDict(extra="forbid")

    player_id: Identifier
    report_id: Identifier
    kind: ObjectiveKind
    target: Identifier
    count: int = Field(1, ge=1, le=100)
    game_server: str = Field("game-server", min_length=1, max_length=128)


def report_from_bus(deps: QuestDeps, reported: ObjectiveReported) -> ReportResult:
    """A report from the bus, by the game server it names (who may put on the bus is IAM's business),
    through the HTTP route's own path. A report no accepted quest waits for changes nothing (logged)."""
    caller = Caller(subject=reported.game_server, world_id=reported.world_id, roles=(Role.GAME_SERVER,))
    report = ObjectiveReport(
        report_id=reported.report_id, kind=reported.kind, target=reported.target, count=reported.count
    )
    result = report_objective(
        deps, caller, reported.world_id, reported.player_id, report, reported.correlation_id
    )
    if not result.progressed:
        logger.info(
            "An objective report no accepted quest of the player waits for",
            extra={"report_id": reported.report_id, "kind": reported.kind.value, "target": reported.target},
        )
    return result


def _matches(quest: Quest, report: ObjectiveReport) -> bool:
    return any(o.kind is report.kind and o.target == report.target for o in quest.objectives)


def _record(deps: QuestDeps, quest: Quest, report: ObjectiveReport, correlation_id: str) -> Quest:
    """The report counted on the quest once (its id joins the quest's); the quest as stored after."""
    for _ in range(SAVE_ATTEMPTS):
        if report.report_id in quest.report_ids or quest.state is not QuestState.ACCEPTED:
            return quest
        objectives = [
            o.model_copy(update={"done": min(o.count, o.done + report.count)})
            if o.kind is report.kind and o.target == report.target
            else o
            for o in quest.objectives
        ]
        advanced = quest.model_copy(
            update={
                "objectives": objectives,
                "report_ids": [*quest.report_ids, report.report_id][-1000:],
                "version": quest.version + 1,
            }
        )
        if deps.store.save(advanced, quest.version):
            for before, after in zip(quest.objectives, advanced.objectives, strict=True):
                if after.done != before.done:
                    _publish(
                        deps.events,
                        QUEST_PROGRESSED,
                        QuestProgressed,
                        advanced,
                        correlation_id,
                        f"report:{report.report_id}:{after.objective_id}",
                        report_id=report.report_id,
                        objective_id=after.objective_id,
                        kind=after.kind,
                        target=after.target,
                        done=after.done,
                        count=after.count,
                    )
            return advanced
        found = deps.store.quest(quest.world_id, quest.player_id, quest.quest_id)
        if found is None:
            return quest
        quest = found
    raise Conflict(
        "The quest kept changing while the report was recorded: send it again.", {"quest_id": quest.quest_id}
    )


def _remaining_s(quest: Quest, clock: Clock) -> int:
    if quest.expires_at is None:
        return quest.expires_after_days * 86400
    return max(1, int((datetime.fromisoformat(quest.expires_at) - clock()).total_seconds()))


def _signal(signals: FlowSignals, quest: Quest, outcome: str, clock: Clock) -> None:
    """Wake the quest's flow; a token that no longer waits is fine (the flow's next wait reads the
    quest as it is now)."""
    if quest.task_token is None:
        return
    told = Outcome(outcome=outcome, remaining_s=_remaining_s(quest, clock))
    if not signals.send_success(quest.task_token, told.model_dump()):
        logger.info("Quest flow had moved on", extra={"quest_id": quest.quest_id, "outcome": outcome})


# --- the flow's steps (`quest-steps`) -------------------------------------------------------------


class StepInput(BaseModel):
    world_id: Identifier
    player_id: str = Field(min_length=1, max_length=128)
    quest_id: Identifier
    correlation_id: str = Field("", max_length=128)


@dataclass
class StepDeps:
    quests: QuestDeps
    world: WorldStore
    facts: FactDeps
    policy: MindPolicy


def await_progress(deps: QuestDeps, step: StepInput, token: str) -> dict[str, object]:
    """The flow waits with `token`: stored on the quest while it is accepted. If the quest is already
    done, ended or past its deadline, the token is sent at once (nobody else would)."""
    quest = deps.store.set_token(step.world_id, step.player_id, step.quest_id, token)
    if quest is None:
        current = deps.store.quest(step.world_id, step.player_id, step.quest_id)
        outcome = "complete" if current is not None and current.state is QuestState.COMPLETED else "abandoned"
    elif quest.objectives_met:
        outcome = "complete"
    elif quest.expires_at is not None and datetime.fromisoformat(quest.expires_at) <= deps.clock():
        outcome = "expired"
    else:
        return {"waiting": True}
    told = Outcome(outcome=outcome, remaining_s=1)
    deps.signals.send_success(token, told.model_dump())
    return {"waiting": False, "outcome": outcome}


def complete(deps: StepDeps, step: StepInput) -> dict[str, object]:
    """accepted (objectives met) -> completed; then the rewards, each once however often this runs:
    the giver's feelings (the mind's relationship, marked by the quest), world facts (a request id
    per fact), `Quest Completed` and `Quest Reward Granted` (their event ids are the quest's)."""
    store = deps.quests.store
    for _ in range(SAVE_ATTEMPTS):
        quest = store.quest(step.world_id, step.player_id, step.quest_id)
        if quest is None or (quest.state is QuestState.ACCEPTED and not quest.objectives_met):
            return {"completed": False}
        if quest.state is QuestState.ABANDONED:
            return {"completed": False}
        if quest.state is QuestState.ACCEPTED:
            done = _ended(quest, "completed", deps.quests.clock)
            if not store.save(done, quest.version):
                continue
            quest = done
        _grant(deps, quest, step.correlation_id)
        return {"completed": True}
    raise Conflict("The quest kept changing while it was completed.", {"quest_id": step.quest_id})


def _grant(deps: StepDeps, quest: Quest, correlation_id: str) -> None:
    rewards = quest.rewards
    if rewards.relationship.trust or rewards.relationship.affinity:
        _feel(deps, quest)
    for key, value in rewards.facts.items():
        apply_requested_change(
            deps.facts,
            FactChangeRequested(
                world_id=quest.world_id,
                correlation_id=correlation_id or quest.quest_id,
                request_id=f"quest:{quest.quest_id}:{key}",
                key=key,
                value=value,
                game_server="quests",
            ),
        )
    events = deps.quests.events
    _publish(events, QUEST_COMPLETED, QuestCompleted, quest, correlation_id, "completed", title=quest.title)
    _publish(
        events,
        QUEST_REWARD_GRANTED,
        QuestRewardGranted,
        quest,
        correlation_id,
        "reward",
        items=dict(rewards.items),
        currency=rewards.currency,
        facts=dict(rewards.facts),
        trust=rewards.relationship.trust,
        affinity=rewards.relationship.affinity,
    )


def _feel(deps: StepDeps, quest: Quest) -> None:
    """The giver's relationship with the player moves by the reward, and the giver is glad: through
    the mind's own write, marked by the quest so a rerun changes nothing."""
    at = quest.ended_at or stamp(deps.quests.clock())
    change = RelationshipChange(
        at=at,
        trust=quest.rewards.relationship.trust,
        affinity=quest.rewards.relationship.affinity,
        reason=f"completed the quest '{quest.title}'"[:200],
        turn_id=f"quest:{quest.quest_id}",
    )
    npc, _ = deps.world.npc_and_memory(quest.world_id, quest.npc_id, quest.player_id)
    temperament = (npc.temperament if npc else None) or NEUTRAL
    for _ in range(SAVE_ATTEMPTS):
        context = deps.world.turn_context(quest.world_id, quest.npc_id, quest.player_id)
        relationship = context.relationship or Relationship.first(
            quest.world_id, quest.npc_id, quest.player_id
        )
        emotion = context.emotion or EmotionState.resting(quest.world_id, quest.npc_id, temperament, at)
        felt = deps.world.feel(
            relationship.changed(change, deps.policy.relationship_history),
            emotion.felt(
                deps.quests.clock(),
                at,
                temperament,
                deps.policy.emotion_half_life_h,
                {Emotion.JOY: QUEST_JOY},
            ),
            f"quest:{quest.quest_id}",
            (relationship.version, emotion.version),
        )
        if felt is not Feeling.CONFLICT:
            return
    logger.warning("A quest's feelings lost every race", extra={"quest_id": quest.quest_id})


def expire(deps: QuestDeps, step: StepInput) -> dict[str, object]:
    """The deadline passed (the flow's wait timed out): accepted -> abandoned, reason `expired`."""
    for _ in range(SAVE_ATTEMPTS):
        quest = deps.store.quest(step.world_id, step.player_id, step.quest_id)
        if quest is None or quest.state is not QuestState.ACCEPTED:
            return {"expired": False}
        ended = _ended(quest, "expired", deps.clock)
        if deps.store.save(ended, quest.version):
            _publish(
                deps.events,
                QUEST_ABANDONED,
                QuestAbandoned,
                ended,
                step.correlation_id,
                "abandoned",
                reason="expired",
            )
            return {"expired": True}
    raise Conflict("The quest kept changing while it expired.", {"quest_id": step.quest_id})


def _publish(
    events: EventPublisher,
    detail_type: str,
    model: Callable[..., QuestEvent],
    quest: Quest,
    correlation_id: str,
    what: str,
    **fields: object,
) -> None:
    events.publish(
        QUEST_SOURCE,
        detail_type,
        model(
            world_id=quest.world_id,
            correlation_id=correlation_id or quest.quest_id,
            event_id=f"quest:{quest.quest_id}:{what}",
            quest_id=quest.quest_id,
            player_id=quest.player_id,
            npc_id=quest.npc_id,
            template_id=quest.template_id,
            **fields,
        ),
    )
