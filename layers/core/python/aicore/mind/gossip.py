"""Gossip: what an NPC was told travels to NPCs of its region or faction as second-hand memories
("Heard from Borin Ironhand that …"), weighted by how much the listener trusts the teller, with
the teller and the original kept. One hop only (hearsay is not passed on), at most
`gossip_per_pair_per_day` memories a day from one NPC to another and `gossip_per_listener_per_day`
to one NPC in all; a player's secret (they asked for discretion) never travels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from aicore.clock import stamp
from aicore.mind.models import Memory, MemoryKind, MemorySource, heard_memory_id
from aicore.mind.policy import MindPolicy
from aicore.mind.store import GossipLimits, MindStore
from aicore.world.models import Npc

Embed = Callable[[str], tuple[str, bytes]]


def listeners(teller: Npc, npcs: Sequence[Npc]) -> list[Npc]:
    """NPCs who share the teller's region or faction (not the teller)."""
    return [
        n
        for n in npcs
        if n.npc_id != teller.npc_id
        and (
            (teller.region and n.region == teller.region) or (teller.faction and n.faction == teller.faction)
        )
    ]


def trust_in(listener: Npc, teller: Npc, policy: MindPolicy) -> int:
    """The listener's trust in the teller: its sheet's, else by what they share."""
    if teller.npc_id in listener.trusts:
        return listener.trusts[teller.npc_id]
    if teller.faction and listener.faction == teller.faction:
        return policy.npc_trust_same_faction
    return policy.npc_trust_same_region


def may_travel(memory: Memory, policy: MindPolicy) -> bool:
    return (
        memory.shareable
        and memory.source in (MemorySource.TURN, MemorySource.EVENT)
        and memory.kind is not MemoryKind.NPC_SAID
        and memory.importance >= policy.gossip_min_importance
    )


def heard(told: Memory, teller: Npc, listener: Npc, trust: int, now: datetime, embed: Embed) -> Memory:
    subject = f"{told.about} said: " if told.kind is MemoryKind.PLAYER_SAID and told.about else ""
    text = f"Heard from {teller.name} that {subject}{told.text}"
    embedder, vector = embed(text)
    return Memory(
        memory_id=heard_memory_id(told.world_id, listener.npc_id, told.memory_id),
        world_id=told.world_id,
        npc_id=listener.npc_id,
        about=told.about,
        text=text,
        kind=MemoryKind.HEARSAY,
        source=MemorySource.GOSSIP,
        importance=max(1, round(told.importance * (trust + 100) / 200)),
        created_at=stamp(now),
        last_access=stamp(now),
        subjects=tuple(dict.fromkeys((*told.subjects, teller.npc_id))),
        embedder=embedder,
        vector=vector,
        heard_from=teller.npc_id,
        origin=told.memory_id,
    )


def spread(
    store: MindStore,
    told: Memory,
    teller: Npc,
    npcs: Sequence[Npc],
    now: datetime,
    policy: MindPolicy,
    embed: Embed,
) -> list[Memory]:
    """Tell `told` to the teller's listeners within the day's limits; the copies written."""
    if not may_travel(told, policy):
        return []
    limits = GossipLimits(
        day=now.date().isoformat(),
        per_pair=policy.gossip_per_pair_per_day,
        per_listener=policy.gossip_per_listener_per_day,
    )
    written = []
    for listener in listeners(teller, npcs):
        trust = trust_in(listener, teller, policy)
        if trust < policy.gossip_min_trust:
            continue
        copy = heard(told, teller, listener, trust, now, embed)
        if store.gossip(copy, told, limits):
            written.append(copy)
    return written
