"""First-token and per-token decode latency of a Qwen2.5-3B-sized model on a GPU, batch 1 and batch 8.

The gold tier's question: how fast is a 3B model on one GPU, before any network or router?
It runs with the serving engine found on the machine: vLLM (the engine the LMI container uses)
if it imports, else transformers + torch. Without real weights on the machine (`--model` not
given, or not found), the model has Qwen2.5-3B-Instruct's exact shape (`QWEN25_3B` below) and
random weights: latency depends on the shape, not on the values, but the output is gibberish
and the report says "random weights". Random weights are fp16: the gold tier's AWQ 4-bit
weights read less memory per token, so its decode is somewhat faster than this measures.

    python bench/gpu_decode.py [--engine auto|vllm|transformers] [--model PATH] [--prompt-tokens 256]
                               [--new-tokens 64] [--runs 5]

Prints a table and writes bench/results/gpu_decode.json. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "gpu_decode.json"
BATCHES = (1, 8)

# Qwen/Qwen2.5-3B-Instruct's config.json (the shape of the gold tier's model, before AWQ).
QWEN25_3B: dict[str, Any] = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "max_window_layers": 70,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "torch_dtype": "float16",
    "use_cache": True,
}


@dataclass(frozen=True)
class Measurement:
    engine: str
    weights: str  # "real: <path>" or "random (Qwen2.5-3B shape)"
    batch: int
    prompt_tokens: int
    new_tokens: int
    first_token_ms_median: float
    decode_ms_per_token_median: float  # per step of the batch: each sequence gets one token per step
    tokens_per_s_per_sequence: float
    tokens_per_s_total: float


def random_prompts(batch: int, prompt_tokens: int, seed: int) -> list[list[int]]:
    import random

    rng = random.Random(seed)
    # Ordinary vocabulary ids, away from the special tokens at the top of the range.
    return [[rng.randrange(1000, 150000) for _ in range(prompt_tokens)] for _ in range(batch)]


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def summarize(
    engine: str,
    weights: str,
    batch: int,
    prompt_tokens: int,
    new_tokens: int,
    ttft_s: list[float],
    step_s: list[float],
) -> Measurement:
    step_ms = _median_ms(step_s)
    per_sequence = 1000 / step_ms if step_ms > 0 else 0.0
    return Measurement(
        engine=engine,
        weights=weights,
        batch=batch,
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        first_token_ms_median=_median_ms(ttft_s),
        decode_ms_per_token_median=step_ms,
        tokens_per_s_per_sequence=round(per_sequence, 1),
        tokens_per_s_total=round(per_sequence * batch, 1),
    )


# --- vLLM ---------------------------------------------------------------------------------------


def run_vllm(model: Path | None, args: argparse.Namespace) -> list[Measurement]:
    """vLLM's offline engine; random weights through `load_format="dummy"` on a written config."""
    from vllm import LLM, SamplingParams  # type: ignore[import-not-found, unused-ignore]
    from vllm.inputs import TokensPrompt  # type: ignore[import-not-found, unused-ignore]

    with tempfile.TemporaryDirectory() as scratch:
        if model is None:
            (Path(scratch) / "config.json").write_text(json.dumps(QWEN25_3B))
            source, weights, load_format = scratch, "random (Qwen2.5-3B shape)", "dummy"
        else:
            source, weights, load_format = str(model), f"real: {model}", "auto"
        llm = LLM(
            model=source,
            load_format=load_format,
            skip_tokenizer_init=True,
            dtype="float16",
            max_model_len=args.prompt_tokens + args.new_tokens + 16,
            max_num_seqs=max(BATCHES),
            gpu_memory_utilization=0.85,
            enforce_eager=False,
        )

        def generate(prompts: list[list[int]], tokens: int) -> float:
            params = SamplingParams(max_tokens=tokens, min_tokens=tokens, temperature=0.0, ignore_eos=True)
            started = time.perf_counter()
            llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
            return time.perf_counter() - started

        return [
            _measure("vllm", weights, batch, args, lambda prompts, tokens: generate(prompts, tokens))
            for batch in BATCHES
        ]


# --- transformers + torch -----------------------------------------------------------------------


def run_transformers(model: Path | None, args: argparse.Namespace) -> list[Measurement]:
    """A plain greedy loop with the KV cache: prefill, then one forward pass per new token."""
    import torch  # type: ignore[import-not-found, unused-ignore]
    from transformers import AutoModelForCausalLM, Qwen2Config  # type: ignore[import-not-found, unused-ignore]

    if model is None:
        config = Qwen2Config(
            **{k: v for k, v in QWEN25_3B.items() if k not in ("architectures", "model_type")}
        )
        torch.manual_seed(0)
        network = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float16)
        weights = "random (Qwen2.5-3B shape)"
    else:
        network = AutoModelForCausalLM.from_pretrained(str(model), torch_dtype=torch.float16)
        weights = f"real: {model}"
    network = network.to("cuda").eval()

    def generate(prompts: list[list[int]], tokens: int) -> float:
        with torch.inference_mode():
            ids = torch.tensor(prompts, device="cuda")
            torch.cuda.synchronize()
            started = time.perf_counter()
            out = network(input_ids=ids, use_cache=True)
            past, next_ids = out.past_key_values, out.logits[:, -1:].argmax(-1)
            for _ in range(tokens - 1):
                out = network(input_ids=next_ids, past_key_values=past, use_cache=True)
                past, next_ids = out.past_key_values, out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            return time.perf_counter() - started

    return [_measure("transformers", weights, batch, args, generate) for batch in BATCHES]


def _measure(
    engine: str,
    weights: str,
    batch: int,
    args: argparse.Namespace,
    generate: Callable[[list[list[int]], int], float],
) -> Measurement:
    """First token: a generation of one token. Decode: (N tokens - 1 token) / (N - 1) steps."""
    prompts = random_prompts(batch, args.prompt_tokens, seed=batch)
    generate(prompts, 2)  # warm-up: kernels, CUDA graphs, allocator
    ttft, steps = [], []
    for run in range(args.runs):
        fresh = random_prompts(batch, args.prompt_tokens, seed=1000 + run)  # no prefix-cache hits
        first = generate(fresh, 1)
        whole = generate(fresh, args.new_tokens)
        ttft.append(first)
        steps.append(max(whole - first, 0.0) / (args.new_tokens - 1))
    return summarize(engine, weights, batch, args.prompt_tokens, args.new_tokens, ttft, steps)


def pick_engine(requested: str) -> str:
    if requested != "auto":
        return requested
    return "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"


def gpu_name() -> str:
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise SystemExit("This benchmark needs torch with CUDA, and vllm or transformers.") from None
    if not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU: this benchmark measures the GPU (run it through the device tool).")
    return str(torch.cuda.get_device_name(0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["auto", "vllm", "transformers"], default="auto")
    parser.add_argument(
        "--model", type=Path, default=None, help="a local model folder (weights); none: random"
    )
    parser.add_argument(
        "--prompt-tokens", type=int, default=256, help="about an NPC prompt: persona, lore, turns"
    )
    parser.add_argument("--new-tokens", type=int, default=64, help="the balanced mode's reply length")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.new_tokens < 2:
        parser.error("--new-tokens must be at least 2 (decode is measured between tokens)")

    device = gpu_name()
    model = args.model if args.model is not None and args.model.exists() else None
    engine = pick_engine(args.engine)
    measurements = run_vllm(model, args) if engine == "vllm" else run_transformers(model, args)

    print(f"{device}, {engine}, {measurements[0].weights}, prompt {args.prompt_tokens} tokens")
    print(
        f"{'batch':>5} {'first token ms':>15} {'decode ms/token':>16} {'tok/s/seq':>10} {'tok/s total':>12}"
    )
    for m in measurements:
        print(
            f"{m.batch:>5} {m.first_token_ms_median:>15.2f} {m.decode_ms_per_token_median:>16.2f} "
            f"{m.tokens_per_s_per_sequence:>10.1f} {m.tokens_per_s_total:>12.1f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "bench": "gpu_decode",
                "gpu": device,
                "engine": engine,
                "python": platform.python_version(),
                "runs": args.runs,
                "results": [asdict(m) for m in measurements],
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
