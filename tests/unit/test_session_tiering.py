"""The tier moves (`aicore.sessions.tiers.Tiering`) over fakes: every step, every step run twice, the sweep.

The flows retry a step that failed, and a step whose Lambda timed out after it did its work runs
again: each step run twice must leave the session where the flow can go on. The whole flows,
through the real ASL, moto and S3, are in tests/integration/test_session_tiers.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aicore.clock import stamp
from aicore.errors import Conflict
from aicore.sessions.archive import ArchivedSession
from aicore.sessions.models import Message, SessionHead, StorageTier
from aicore.sessions.policy import SessionPolicy
from aicore.sessions.store import SessionNotLive
from aicore.sessions.tiers import WAIT_STEP_S
from aicore.topology import SESSION_ARCHIVE_FLOW
from tests.fakes import FakeFlows
from tests.tier_fakes import ARCHIVER, MIRA, NOW, REHYDRATOR
from tests.tier_fakes import TieringWorld as World

POLICY = SessionPolicy()  # dormant after 365 days, a rehydration is stale after 120 s
# Other movers: a second archive flow (a suspension racing the sweep), a second rehydration
SUSPENDER = "arn:aws:states:us-east-1:123456789012:execution:aicore-test-session-archive:s1"
NEWCOMER = "arn:aws:states:us-east-1:123456789012:execution:aicore-test-session-rehydrate:r2"


@pytest.fixture
def world() -> World:
    return World()


# --- archive: freeze -> upload -> seal, thaw on failure -------------------------------------------


def test_the_archive_steps_move_every_word_to_one_object_and_leave_a_tombstone(world: World) -> None:
    # Given a warm session: a chunk and hot messages in the table
    head = world.warm_session()
    messages_before, bounds_before = world.store.everything(head.session_id)

    # When the archive flow's steps run
    frozen = world.tiering.freeze(head.session_id, None, ARCHIVER)
    uploaded = world.tiering.upload(head.session_id)
    sealed = world.tiering.seal(head.session_id, uploaded.archive_key)

    # Then the object holds the session as it was (head in its live tier, every message, the chunk layout)
    assert (frozen.frozen, frozen.tier) == (True, StorageTier.ARCHIVING)
    assert (uploaded.message_count, uploaded.stored_messages) == (120, 120)
    archived = ArchivedSession.decode(world.archive.objects[uploaded.archive_key])
    assert uploaded.bytes == len(world.archive.objects[uploaded.archive_key])
    assert archived.head.tier is StorageTier.WARM
    assert (archived.head.version, archived.head.summary, archived.head.metadata) == (
        3,
        "Mira told of the ring.",
        {"quest": "the lost ring"},
    )
    assert (archived.messages, archived.chunk_bounds) == (messages_before, bounds_before)
    # And the table keeps only a tombstone head pointing at it
    tombstone = world.store.get_head(head.session_id)
    assert (tombstone.tier, tombstone.archive_key) == (StorageTier.COLD, uploaded.archive_key)
    assert sealed.purged_items == 1 + 20  # the chunk and the 20 hot messages
    assert world.store.items(head.session_id) == ({}, {})
    assert uploaded.archive_key.startswith(f"sessions/demo/{head.session_id}/")


def test_freeze_archives_a_session_only_while_it_is_still_dormant(world: World) -> None:
    # Given a session last active a year and a day ago
    head = world.warm_session(last_active=NOW - timedelta(days=366))
    cutoff_before = stamp(NOW - timedelta(days=367))
    cutoff_after = stamp(NOW - timedelta(days=365))

    # When the sweep's cutoff is older than its last activity, it is not frozen; when newer, it is
    assert world.tiering.freeze(head.session_id, cutoff_before, ARCHIVER).frozen is False
    assert world.tier(head) is StorageTier.WARM
    assert world.tiering.freeze(head.session_id, cutoff_after, ARCHIVER).frozen is True
    assert world.tier(head) is StorageTier.ARCHIVING


def test_freeze_leaves_a_session_that_is_not_live_as_it_is(world: World) -> None:
    head = world.warm_session()
    world.archived(head)
    frozen = world.tiering.freeze(head.session_id, None, ARCHIVER)
    assert (frozen.frozen, frozen.tier) == (False, StorageTier.COLD)


def test_a_retried_freeze_still_archives_the_session(world: World) -> None:
    # Given a freeze that froze the session, but whose Lambda timed out: the flow runs it again
    head = world.warm_session()
    world.tiering.freeze(head.session_id, None, ARCHIVER)

    # When the retry answers, the flow goes on as its Choice state says
    retried = world.tiering.freeze(head.session_id, None, ARCHIVER)
    if retried.frozen:
        world.tiering.seal(head.session_id, world.tiering.upload(head.session_id).archive_key)

    # Then the session is not left frozen: writes would wait on it for good
    assert world.tier(head) is not StorageTier.ARCHIVING
    assert retried.frozen


def test_a_second_archive_flow_neither_freezes_nor_thaws_what_the_first_froze(world: World) -> None:
    # Given a session one archive flow froze (the sweep), and a suspension's flow right behind it
    head = world.warm_session()
    assert world.tiering.freeze(head.session_id, None, ARCHIVER).frozen

    # When the second flow freezes, and (it never should) thaws
    second = world.tiering.freeze(head.session_id, None, SUSPENDER)
    thawed = world.tiering.thaw(head.session_id, SUSPENDER)

    # Then it got nothing and changed nothing: the first flow archives the session
    assert (second.frozen, second.tier, thawed.tier) == (False, StorageTier.ARCHIVING, None)
    assert world.tier(head) is StorageTier.ARCHIVING
    world.tiering.seal(head.session_id, world.tiering.upload(head.session_id).archive_key)
    assert world.tier(head) is StorageTier.COLD


def test_upload_refuses_a_session_that_is_not_frozen(world: World) -> None:
    head = world.warm_session()
    with pytest.raises(Conflict, match="is warm, not archiving"):
        world.tiering.upload(head.session_id)
    assert world.archive.objects == {}


def test_an_upload_run_twice_writes_one_object_that_seals(world: World) -> None:
    # Given a frozen session
    head = world.warm_session()
    world.tiering.freeze(head.session_id, None, ARCHIVER)

    # When the upload runs twice, the second time a while later (a retry after a timeout)
    first = world.tiering.upload(head.session_id)
    world.moment.advance(timedelta(seconds=30))
    second = world.tiering.upload(head.session_id)

    # Then both wrote the same object, named for the freeze: nothing is left over in the bucket
    assert (first.archive_key, first.stored_messages) == (second.archive_key, second.stored_messages)
    assert list(world.archive.objects) == [second.archive_key]
    archived = ArchivedSession.decode(world.archive.objects[second.archive_key])
    assert (archived.head.session_id, len(archived.messages)) == (head.session_id, 120)
    assert world.tiering.seal(head.session_id, second.archive_key).purged_items == 21
    assert world.store.get_head(head.session_id).archive_key == second.archive_key


def test_a_seal_run_twice_is_the_same_tombstone(world: World) -> None:
    # Given a sealed session
    head = world.warm_session()
    key = world.archived(head)
    tombstone = world.store.get_head(head.session_id)

    # When the seal runs again with the same key
    again = world.tiering.seal(head.session_id, key)

    # Then nothing changes: there was nothing left to purge
    assert (again.archive_key, again.purged_items) == (key, 0)
    assert world.store.get_head(head.session_id).model_copy(update={"tier_changed_at": None}) == (
        tombstone.model_copy(update={"tier_changed_at": None})
    )


def test_seal_refuses_an_object_that_does_not_hold_the_session_as_frozen(world: World) -> None:
    # Given a frozen session, and an object at its key that holds another session
    head = world.warm_session()
    world.tiering.freeze(head.session_id, None, ARCHIVER)
    other = SessionHead(world_id="demo", participants=[MIRA], message_count=120)
    world.archive.objects["sessions/demo/x.json.gz"] = ArchivedSession.of(other, [], []).encode()

    # When the seal runs with that key
    with pytest.raises(Conflict, match="does not hold this session"):
        world.tiering.seal(head.session_id, "sessions/demo/x.json.gz")

    # Then the session keeps every item, still frozen (the flow's Catch thaws it)
    assert world.tier(head) is StorageTier.ARCHIVING
    assert world.store.everything(head.session_id)[0][-1].seq == 120


def test_seal_refuses_a_session_that_is_not_being_archived(world: World) -> None:
    head = world.warm_session()
    with pytest.raises(Conflict, match="is warm, not archiving"):
        world.tiering.seal(head.session_id, "sessions/demo/any.json.gz")


def test_a_thaw_gives_a_failed_archive_back_untouched_and_twice_is_harmless(world: World) -> None:
    # Given a frozen session whose upload failed
    head = world.warm_session()
    items = world.store.items(head.session_id)
    world.tiering.freeze(head.session_id, None, ARCHIVER)
    world.archive.refuse_puts = True
    with pytest.raises(ConnectionError):
        world.tiering.upload(head.session_id)

    # When the thaw runs, twice
    first = world.tiering.thaw(head.session_id, ARCHIVER)
    second = world.tiering.thaw(head.session_id, ARCHIVER)

    # Then the session is live again in the tier it was in, with every item
    assert (first.frozen, first.tier) == (False, StorageTier.WARM)
    assert (second.frozen, second.tier) == (False, None)  # nothing was archiving any more
    assert world.tier(head) is StorageTier.WARM
    assert world.store.items(head.session_id) == items


# --- rehydrate: claim -> restore -> discard, release on failure -----------------------------------


def test_the_rehydrate_steps_bring_every_item_back_byte_for_byte(world: World) -> None:
    # Given an archived session
    head = world.warm_session()
    items = world.store.items(head.session_id)
    key = world.archived(head)

    # When the rehydrate flow's steps run
    claimed = world.tiering.claim(head.session_id, REHYDRATOR)
    restored = world.tiering.restore(head.session_id, key, REHYDRATOR)
    world.tiering.discard(key)

    # Then every message and chunk is back, the head is live as it was, and the object is gone
    assert (claimed.claimed, claimed.archive_key, claimed.tier) == (True, key, StorageTier.REHYDRATING)
    assert (restored.messages, restored.tier) == (120, StorageTier.WARM)
    assert world.store.items(head.session_id) == items
    back = world.store.get_head(head.session_id)
    assert (back.tier, back.version, back.message_count, back.summary, back.archive_key) == (
        StorageTier.WARM,
        3,
        120,
        "Mira told of the ring.",
        None,
    )
    assert world.archive.objects == {}


def test_a_hot_session_comes_back_hot(world: World) -> None:
    head = SessionHead(world_id="demo", participants=[MIRA], message_count=2)
    world.store.add(head, [Message(seq=s, speaker=MIRA, text=f"line {s}") for s in (1, 2)])
    key = world.archived(head)
    world.tiering.claim(head.session_id, REHYDRATOR)
    assert world.tiering.restore(head.session_id, key, REHYDRATOR).tier is StorageTier.HOT


def test_a_claim_on_a_session_that_is_not_cold_claims_nothing(world: World) -> None:
    head = world.warm_session()
    claimed = world.tiering.claim(head.session_id, REHYDRATOR)
    assert (claimed.claimed, claimed.tier) == (False, StorageTier.WARM)


def test_a_retried_claim_still_restores_the_session(world: World) -> None:
    # Given a claim that claimed the session, but whose Lambda timed out: the flow runs it again
    head = world.warm_session()
    key = world.archived(head)
    world.tiering.claim(head.session_id, REHYDRATOR)

    # When the retry answers, the flow goes on as its Choice state says
    retried = world.tiering.claim(head.session_id, REHYDRATOR)
    if retried.claimed:
        world.tiering.restore(head.session_id, key, REHYDRATOR)

    # Then the session is live again
    assert retried.claimed
    assert world.tier(head) is StorageTier.WARM


def test_a_stalled_rehydration_is_taken_over_once_it_is_stale(world: World) -> None:
    # Given a rehydration that claimed the session and then died
    head = world.warm_session()
    key = world.archived(head)
    world.tiering.claim(head.session_id, REHYDRATOR)

    # When another claims it before the stale time, it gets nothing; after, it takes over
    world.moment.advance(timedelta(seconds=POLICY.rehydration_stale_s - 1))
    assert world.tiering.claim(head.session_id, NEWCOMER).claimed is False
    world.moment.advance(timedelta(seconds=2))
    taken_over = world.tiering.claim(head.session_id, NEWCOMER)

    # Then the newcomer restores it; the first, should it wake, can neither restore nor release it
    assert (taken_over.claimed, taken_over.archive_key) == (True, key)
    with pytest.raises(Conflict, match="this rehydration does not hold it"):
        world.tiering.restore(head.session_id, key, REHYDRATOR)
    assert world.tiering.release(head.session_id, REHYDRATOR).tier is None
    assert world.tiering.restore(head.session_id, key, NEWCOMER).tier is StorageTier.WARM


def test_a_retried_restore_reports_the_session_restored(world: World) -> None:
    # Given a restore that brought the session back, but whose Lambda timed out
    head = world.warm_session()
    key = world.archived(head)
    world.tiering.claim(head.session_id, REHYDRATOR)
    world.tiering.restore(head.session_id, key, REHYDRATOR)

    # When the flow runs it again, it goes on to discard the object
    again = world.tiering.restore(head.session_id, key, REHYDRATOR)

    # Then the retry says the session is back
    assert again.tier is StorageTier.WARM
    assert (again.messages, again.archive_key) == (120, key)


def test_a_retried_restore_writes_nothing_over_what_the_session_took_since(world: World) -> None:
    # Given a restored session that took a new line before the restore's retry ran
    head = world.warm_session()
    key = world.archived(head)
    world.tiering.claim(head.session_id, REHYDRATOR)
    world.tiering.restore(head.session_id, key, REHYDRATOR)
    line = Message(seq=121, speaker=MIRA, text="Welcome back.")
    world.store.messages[head.session_id][121] = line
    world.store.heads[head.session_id] = world.store.get_head(head.session_id).model_copy(
        update={"message_count": 121}
    )
    before = world.store.items(head.session_id), world.store.get_head(head.session_id)

    # When the retry runs
    again = world.tiering.restore(head.session_id, key, REHYDRATOR)

    # Then it answers restored and leaves the head and every item as they were
    assert again.tier is StorageTier.WARM
    assert (world.store.items(head.session_id), world.store.get_head(head.session_id)) == before


def test_restore_refuses_an_object_of_another_session_and_release_gives_the_archive_back(
    world: World,
) -> None:
    # Given a claimed session whose key holds another session's object
    head = world.warm_session()
    key = world.archived(head)
    real_object = world.archive.objects[key]
    other = SessionHead(world_id="demo", participants=[MIRA])
    world.archive.objects[key] = ArchivedSession.of(other, [], []).encode()
    world.tiering.claim(head.session_id, REHYDRATOR)

    # When the restore runs, it refuses; the flow's Catch releases the claim, twice (a retry)
    with pytest.raises(Conflict, match="holds another session"):
        world.tiering.restore(head.session_id, key, REHYDRATOR)
    first = world.tiering.release(head.session_id, REHYDRATOR)
    second = world.tiering.release(head.session_id, REHYDRATOR)

    # Then the session is cold again, and the archive still holds it
    assert (first.tier, second.tier) == (StorageTier.COLD, None)
    assert world.tier(head) is StorageTier.COLD
    world.archive.objects[key] = real_object
    tombstone = world.store.get_head(head.session_id)
    archived = world.tiering.read_archived(tombstone)
    assert archived is not None
    assert len(archived.messages) == 120


def test_a_discard_run_twice_is_harmless(world: World) -> None:
    head = world.warm_session()
    key = world.archived(head)
    world.tiering.discard(key)
    world.tiering.discard(key)
    assert world.archive.objects == {}


# --- reads and writes of cold sessions ------------------------------------------------------------


def test_read_archived_answers_from_the_object_or_says_there_is_none(world: World) -> None:
    head = world.warm_session()
    assert world.tiering.read_archived(head) is None  # live: no archive key
    key = world.archived(head)
    tombstone = world.store.get_head(head.session_id)
    archived = world.tiering.read_archived(tombstone)
    assert archived is not None
    assert [m.seq for m in archived.messages] == list(range(1, 121))
    world.tiering.discard(key)
    assert world.tiering.read_archived(tombstone) is None  # rehydrated meanwhile: read the table


def test_rehydrate_now_returns_a_live_session_at_once(world: World) -> None:
    head = world.warm_session()
    assert world.tiering.rehydrate_now(head.session_id).tier is StorageTier.WARM
    assert world.sleeps == []


def test_rehydrate_now_brings_a_cold_session_back_inline_and_discards_its_object(world: World) -> None:
    head = world.warm_session()
    items = world.store.items(head.session_id)
    world.archived(head)

    back = world.tiering.rehydrate_now(head.session_id)

    assert back.tier is StorageTier.WARM
    assert world.store.items(head.session_id) == items
    assert world.archive.objects == {}
    assert world.sleeps == []


def test_rehydrate_now_waits_for_a_rehydration_under_way(world: World) -> None:
    # Given a session another mover (the flow) has just claimed
    head = world.warm_session()
    key = world.archived(head)
    world.tiering.claim(head.session_id, REHYDRATOR)

    # When a write needs it live, and the flow finishes while the write waits
    def flow_finishes(seconds: float) -> None:
        world.sleeps.append(seconds)
        world.tiering.restore(head.session_id, key, REHYDRATOR)

    world.tiering.sleep = flow_finishes
    back = world.tiering.rehydrate_now(head.session_id)

    # Then the write waited one step and got the session the flow brought back
    assert world.sleeps == [WAIT_STEP_S]
    assert back.tier is StorageTier.WARM


def test_rehydrate_now_gives_up_on_a_move_that_does_not_finish(world: World) -> None:
    # Given a session frozen by an archive flow, and writes that may not wait at all
    world = World(SessionPolicy(tier_wait_s=0))
    head = world.warm_session()
    world.tiering.freeze(head.session_id, None, ARCHIVER)

    # When a write needs it live, it is refused (409), without waiting
    with pytest.raises(SessionNotLive):
        world.tiering.rehydrate_now(head.session_id)
    assert world.sleeps == []


def test_rehydrate_now_releases_its_claim_when_the_restore_fails(world: World) -> None:
    # Given a cold session whose object now holds another session
    head = world.warm_session()
    key = world.archived(head)
    world.archive.objects[key] = ArchivedSession.of(
        SessionHead(world_id="demo", participants=[]), [], []
    ).encode()

    # When a write brings it back inline, the restore fails
    with pytest.raises(Conflict):
        world.tiering.rehydrate_now(head.session_id)

    # Then the claim is released: the session is cold, its archive the truth
    assert world.tier(head) is StorageTier.COLD


def test_rehydrate_now_keeps_the_session_live_when_the_object_cannot_be_discarded(world: World) -> None:
    head = world.warm_session()
    key = world.archived(head)
    world.archive.refuse_deletes = True

    assert world.tiering.rehydrate_now(head.session_id).tier is StorageTier.WARM
    assert key in world.archive.objects  # a leftover object costs a little, nothing more


# --- the dormancy sweep ---------------------------------------------------------------------------


def test_the_sweep_starts_one_archive_flow_per_dormant_session_once_a_day(world: World) -> None:
    # Given a session quiet for two years, one active now, and one already archived
    old = world.warm_session(last_active=NOW - timedelta(days=730))
    fresh = world.warm_session()
    archived = world.warm_session(last_active=NOW - timedelta(days=730))
    world.archived(archived)
    flows = FakeFlows()

    # When the sweep runs, twice the same day
    first = world.tiering.sweep(flows)
    second = world.tiering.sweep(flows)

    # Then one archive flow started, for the dormant session, named for the day (a rerun starts none)
    assert first.active_before == stamp(NOW - timedelta(days=365))
    assert (first.dormant, first.started) == (1, [old.session_id])
    assert (second.dormant, second.started) == (1, [])
    assert flows.started == [
        (
            SESSION_ARCHIVE_FLOW,
            f"{old.session_id}-dormant-20251123",
            {"session_id": old.session_id, "active_before": first.active_before, "reason": "dormant"},
        )
    ]
    assert fresh.session_id not in first.started


def test_the_sweep_takes_at_most_its_limit(world: World) -> None:
    for _ in range(3):
        world.warm_session(last_active=NOW - timedelta(days=400))
    result = world.tiering.sweep(FakeFlows(), limit=2)
    assert (result.dormant, len(result.started)) == (2, 2)
