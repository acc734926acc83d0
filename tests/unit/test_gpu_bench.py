"""The GPU benchmark's bookkeeping (the GPU part runs on a device machine): new prompts for every
measurement, NPC-length prompts, and the rescaling to an A10G."""

from __future__ import annotations

from bench.gpu_decode import (
    PROMPT_TOKENS,
    Measurement,
    on_an_a10g,
    prompt_lengths,
    random_prompts,
    seed_of,
)


def test_no_two_measurements_share_a_prompt() -> None:
    seeds = {
        seed_of(batch, run, purpose)
        for batch in (1, 8)
        for run in range(5)
        for purpose in ("first", "baseline", "decode")
    }
    assert len(seeds) == 2 * 5 * 3
    lengths = prompt_lengths(8, seed_of(8, 0, "lengths"))
    first, decode = (
        random_prompts(lengths, seed_of(8, 0, "first")),
        random_prompts(lengths, seed_of(8, 0, "decode")),
    )
    assert [len(p) for p in first] == [len(p) for p in decode] == lengths
    assert all(a[:16] != b[:16] for a, b in zip(first, decode, strict=True))
    assert all(PROMPT_TOKENS[0] <= n <= PROMPT_TOKENS[1] for n in lengths)


def test_an_h200_figure_rescales_to_an_a10g_by_bandwidth_and_throughput() -> None:
    measured = Measurement("vllm", "random", 1, 500, 64, 20.0, 2.0, 500.0, 500.0)
    a10g = on_an_a10g(measured, "NVIDIA H200")
    assert a10g == {"first_token_ms": 158.24, "decode_ms_per_token": 16.0, "tokens_per_s_per_sequence": 62.5}
    assert on_an_a10g(measured, "Some Unknown GPU") is None
