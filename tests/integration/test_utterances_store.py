"""The utterance store of `npc.listen` on DynamoDB (the local runtime's moto server): a chunk sent
again keeps the first, a whole 30 s utterance reads back in order, and of racing chunks exactly one
ends it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from aicore.aws.utterances import DynamoUtteranceStore
from aicore.local.runtime import LocalRuntime
from aicore.settings import get_settings
from aicore.voice.audio import LISTEN_CHUNK_MAX_BYTES, LISTEN_MAX_CHUNKS

OWNER = "demo#p1"
EXPIRES_AT = 4_102_444_800


def test_a_whole_utterance_reads_back_by_seq_and_a_repeated_chunk_keeps_the_first(
    runtime: LocalRuntime,
) -> None:
    store, request_id = DynamoUtteranceStore(get_settings().connections_table), uuid.uuid4().hex
    chunks = {seq: bytes([seq]) * LISTEN_CHUNK_MAX_BYTES for seq in range(LISTEN_MAX_CHUNKS)}
    for seq in reversed(range(LISTEN_MAX_CHUNKS)):  # out of order, as invocations may run
        store.add_chunk(OWNER, request_id, seq, chunks[seq], EXPIRES_AT)
    store.add_chunk(OWNER, request_id, 0, b"\x7f" * 10, EXPIRES_AT)  # a redelivery with other bytes

    read, transcript = store.utterance(OWNER, request_id)

    assert read == chunks  # 960,000 bytes: more than one page of a Query
    assert transcript is None


def test_of_racing_chunks_exactly_one_ends_the_utterance(runtime: LocalRuntime) -> None:
    store, request_id = DynamoUtteranceStore(get_settings().connections_table), uuid.uuid4().hex

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: store.end(OWNER, request_id, f"heard {n}", EXPIRES_AT), range(8)))

    winners = [n for n, answer in enumerate(answers) if answer is None]
    assert len(winners) == 1
    assert {a for a in answers if a is not None} == {f"heard {winners[0]}"}
    assert store.utterance(OWNER, request_id) == ({}, f"heard {winners[0]}")
