"""Long sessions for tests and benches: thousands of messages, written the fast way (batch writes).

A seeded session looks as if it had lived: all but the newest messages already compacted into warm
chunks, the rest hot. It is written with the same code that rehydration uses.
"""

from __future__ import annotations

from aicore.aws.sessions.store import DynamoSessionStore
from aicore.aws.sessions.table import SessionTable
from aicore.aws.sessions.tiering import DynamoTieringStore
from aicore.sessions.chunks import plan_chunks
from aicore.sessions.models import Message, Participant, ParticipantKind, SessionHead, StorageTier
from aicore.sessions.policy import SessionPolicy

PLAYER = Participant(id="player-long", kind=ParticipantKind.PLAYER)
NPC = Participant(id="mira", kind=ParticipantKind.NPC)
LINES = (
    "Any rooms free tonight?",
    "For you, always. Two coppers and you sweep the hearth.",
    "Heard anything about the mill road?",
    "Wolves, they say. And worse after dark, if you believe old Borin.",
)


def long_messages(count: int) -> list[Message]:
    return [
        Message(
            seq=seq,
            speaker=PLAYER if seq % 2 else NPC,
            text=f"{LINES[seq % len(LINES)]} ({seq})",
            created_at=f"2026-01-01T00:00:{seq % 60:02d}.000+00:00",
            correlation_id=f"turn-{seq // 2}",
        )
        for seq in range(1, count + 1)
    ]


def seed_long_session(
    table: SessionTable, count: int, world_id: str = "demo", policy: SessionPolicy | None = None
) -> SessionHead:
    """A session of `count` messages: whole chunks of the oldest, the newest `hot_keep`+ still hot."""
    policy = policy or SessionPolicy()
    messages = long_messages(count)
    chunks = plan_chunks(messages[: max(0, count - policy.hot_keep)], policy.chunk_messages)
    compacted_through = chunks[-1].last_seq if chunks else 0
    head = SessionHead(
        world_id=world_id,
        participants=[PLAYER, NPC],
        metadata={"kind": "long", "messages": count},
        message_count=count,
        tier=StorageTier.WARM if chunks else StorageTier.HOT,
        summary="A long stay at the inn: rooms, chores, and rumours of wolves on the mill road.",
        summary_through=compacted_through,
        compacted_through=compacted_through,
    )
    DynamoSessionStore(table).create(head)
    DynamoTieringStore(table).put_archived_items(head.session_id, messages, chunks)
    return head
