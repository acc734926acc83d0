"""Fakes for quests: the store (versioned writes, like DynamoDB's conditions), flow signals, a router."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from aicore.llm.router import Completion, ModelRequest
from aicore.quests.models import Quest, QuestOffer, QuestState


@dataclass
class FakeQuestStore:
    quests: dict[tuple[str, str, str], Quest] = field(default_factory=dict)
    offers: dict[tuple[str, str, str], QuestOffer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def quest(self, world_id: str, player_id: str, quest_id: str) -> Quest | None:
        return self.quests.get((world_id, player_id, quest_id))

    def player_quests(self, world_id: str, player_id: str) -> list[Quest]:
        return [q for (w, p, _), q in self.quests.items() if (w, p) == (world_id, player_id)]

    def offered(self, world_id: str, npc_id: str, player_id: str) -> QuestOffer | None:
        return self.offers.get((world_id, npc_id, player_id))

    def put_offer(self, quest: Quest) -> bool:
        with self.lock:
            pointer = (quest.world_id, quest.npc_id, quest.player_id)
            key = (quest.world_id, quest.player_id, quest.quest_id)
            if pointer in self.offers or key in self.quests:
                return False
            self.quests[key] = quest
            self.offers[pointer] = quest.offer()
            return True

    def save(self, quest: Quest, expected_version: int, clear_offer: bool = False) -> bool:
        with self.lock:
            key = (quest.world_id, quest.player_id, quest.quest_id)
            current = self.quests.get(key)
            if current is None or current.version != expected_version:
                return False
            self.quests[key] = quest
            pointer = (quest.world_id, quest.npc_id, quest.player_id)
            if clear_offer and pointer in self.offers and self.offers[pointer].quest_id == quest.quest_id:
                del self.offers[pointer]
            return True

    def set_token(self, world_id: str, player_id: str, quest_id: str, token: str) -> Quest | None:
        with self.lock:
            current = self.quests.get((world_id, player_id, quest_id))
            if current is None or current.state is not QuestState.ACCEPTED:
                return None
            updated = current.model_copy(update={"task_token": token, "version": current.version + 1})
            self.quests[(world_id, player_id, quest_id)] = updated
            return updated


@dataclass
class FakeSignals:
    """Tokens that wait (`waiting`) and what each was sent; a token sent twice no longer waits."""

    waiting: set[str] = field(default_factory=set)
    sent: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def send_success(self, token: str, output: dict[str, object]) -> bool:
        if token not in self.waiting:
            return False
        self.waiting.discard(token)
        self.sent.append((token, output))
        return True


@dataclass
class ScriptedRouter:
    """Answers each model call with the next of `answers` (as silver); `None`: no tier answered."""

    answers: list[str | None]
    requests: list[ModelRequest] = field(default_factory=list)

    def stream(
        self, request: ModelRequest, on_token: Callable[[str], bool | None], scripted_line: Callable[[], str]
    ) -> Completion:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else None
        if answer is None:
            return Completion(scripted_line(), "scripted", True, 0.0, 0.0, 0)
        return Completion(answer, "silver", False, 1.0, 2.0, 10)
