"""First-token and per-token decode latency of the gold tier's model on a GPU, batch 1 and batch 8.

The gold tier's question: how fast is its model on one GPU, before any network or router? One
command on a machine with a CUDA GPU and vLLM (the engine the LMI container runs):

    pip install vllm            # brings torch with CUDA; transformers is the fallback engine
    python bench/gpu_decode.py [--shape qwen3-4b|qwen2.5-3b|qwen2.5-7b] [--no-awq] [--model PATH]
                               [--engine auto|vllm|transformers] [--new-tokens 64] [--runs 5]

Without real weights on the machine (`--model` not given, or not found) the model has the
shape's exact config and random weights (vLLM's `load_format="dummy"`): latency depends on the
shape and the kernels, not on the values. By default the weights are AWQ 4-bit, as the gold tier
serves them, so vLLM runs its AWQ kernels. Prompts are as long as an NPC turn's (400-600 tokens,
each a different length); every prompt is new (distinct seeds for every batch, run and purpose)
and prefix caching is off, so no measurement reuses another's prefill. First token = a one-token
generation; decode = (an N-token generation - a one-token generation of prompts of the same
lengths) / (N - 1). The last lines rescale the figures to an A10G (the gold tier's ml.g5.xlarge):
decode by memory bandwidth (decode reads every weight once a token), first token by fp16 tensor
throughput (prefill is compute-bound): estimates, labelled as such.

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
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "gpu_decode.json"
BATCHES = (1, 8)
PROMPT_TOKENS = (400, 600)  # an NPC turn's prompt: persona, lore, memories, the conversation
A10G = "NVIDIA A10G"
# Public spec sheets: memory bandwidth (GB/s) and dense fp16 tensor throughput (TFLOPS).
GPUS: dict[str, tuple[float, float]] = {
    "H200": (4800, 989),
    "H100 SXM": (3350, 989),
    "H100 PCIe": (2000, 756),
    "H100": (3350, 989),
    "A100-SXM4-80GB": (2039, 312),
    "A100 80GB": (1935, 312),
    "A100": (1555, 312),
    "L40S": (864, 362),
    "L4": (300, 121),
    "A10G": (600, 125),
    "A10": (600, 125),
    "T4": (320, 65),
}

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

# Qwen/Qwen3-4B's config.json: the shape of the default gold tier's model (endpoints/gold.json).
QWEN3_4B: dict[str, Any] = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "hidden_size": 2560,
    "intermediate_size": 9728,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "torch_dtype": "float16",
    "use_cache": True,
}

# Qwen/Qwen2.5-7B-Instruct's config.json: the silver tier's model.
QWEN25_7B: dict[str, Any] = {
    **QWEN25_3B,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_window_layers": 28,
    "tie_word_embeddings": False,
}

SHAPES = {"qwen3-4b": QWEN3_4B, "qwen2.5-3b": QWEN25_3B, "qwen2.5-7b": QWEN25_7B}
# How AWQ checkpoints describe themselves (4-bit, groups of 128): vLLM picks its AWQ kernels.
AWQ = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"}


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


def prompt_lengths(batch: int, seed: int, fixed: int | None = None) -> list[int]:
    """As long as NPC turns' prompts, each its own length (or all `fixed` long)."""
    import random

    rng = random.Random(seed)
    return [fixed or rng.randint(*PROMPT_TOKENS) for _ in range(batch)]


def random_prompts(lengths: list[int], seed: int) -> list[list[int]]:
    """Prompts of these lengths, new for every seed (never a prefix of another measurement's)."""
    import random

    rng = random.Random(seed)
    # Ordinary vocabulary ids, away from the special tokens at the top of the range.
    return [[rng.randrange(1000, 150000) for _ in range(length)] for length in lengths]


def seed_of(batch: int, run: int, purpose: str) -> int:
    """A distinct, reproducible seed for every (batch, run, purpose)."""
    return zlib.crc32(f"{batch}:{run}:{purpose}".encode())


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
            config = dict(SHAPES[args.shape])
            if args.awq:
                config["quantization_config"] = AWQ
            (Path(scratch) / "config.json").write_text(json.dumps(config))
            source, load_format = scratch, "dummy"
            weights = f"random ({args.shape} shape{', AWQ 4-bit' if args.awq else ', fp16'})"
        else:
            source, weights, load_format = str(model), f"real: {model}", "auto"
        llm = LLM(
            model=source,
            load_format=load_format,
            skip_tokenizer_init=True,
            dtype="float16",
            max_model_len=PROMPT_TOKENS[1] + args.new_tokens + 16,
            max_num_seqs=max(BATCHES),
            gpu_memory_utilization=0.85,
            enable_prefix_caching=False,  # no measurement may reuse another's prefill
            enforce_eager=False,
        )

        def generate(prompts: list[list[int]], tokens: int) -> float:
            params = SamplingParams(max_tokens=tokens, min_tokens=tokens, temperature=0.0, ignore_eos=True)
            started = time.perf_counter()
            llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
            return time.perf_counter() - started

        return [_measure("vllm", weights, batch, args, generate) for batch in BATCHES]


# --- transformers + torch -----------------------------------------------------------------------


def run_transformers(model: Path | None, args: argparse.Namespace) -> list[Measurement]:
    """A plain greedy loop with the KV cache: prefill, then one forward pass per new token (fp16:
    transformers has no AWQ kernels of its own; prompts of a batch share one length, no padding)."""
    import torch  # type: ignore[import-not-found, unused-ignore]
    from transformers import AutoConfig, AutoModelForCausalLM  # type: ignore[import-not-found, unused-ignore]

    if model is None:
        shape = {k: v for k, v in SHAPES[args.shape].items() if k != "architectures"}
        config = AutoConfig.for_model(**shape)
        torch.manual_seed(0)
        network = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float16)
        weights = f"random ({args.shape} shape, fp16)"
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

    fixed = sum(PROMPT_TOKENS) // 2
    return [_measure("transformers", weights, batch, args, generate, fixed) for batch in BATCHES]


def _measure(
    engine: str,
    weights: str,
    batch: int,
    args: argparse.Namespace,
    generate: Callable[[list[list[int]], int], float],
    fixed_length: int | None = None,
) -> Measurement:
    """First token: a one-token generation of new prompts. Decode: an N-token generation of other
    new prompts of the same lengths, less a one-token generation of yet others, over N - 1 steps."""
    warm = prompt_lengths(batch, seed_of(batch, -1, "lengths"), fixed_length)
    generate(random_prompts(warm, seed_of(batch, -1, "warm-up")), 2)  # kernels, CUDA graphs, allocator
    ttft, steps = [], []
    for run in range(args.runs):
        lengths = prompt_lengths(batch, seed_of(batch, run, "lengths"), fixed_length)
        first = generate(random_prompts(lengths, seed_of(batch, run, "first")), 1)
        baseline = generate(random_prompts(lengths, seed_of(batch, run, "baseline")), 1)
        whole = generate(random_prompts(lengths, seed_of(batch, run, "decode")), args.new_tokens)
        ttft.append(first)
        steps.append(max(whole - baseline, 0.0) / (args.new_tokens - 1))
    prompt_tokens = round(statistics.mean(PROMPT_TOKENS)) if fixed_length is None else fixed_length
    return summarize(engine, weights, batch, prompt_tokens, args.new_tokens, ttft, steps)


def gpu_spec(name: str) -> tuple[float, float] | None:
    """(memory GB/s, fp16 tensor TFLOPS) of the GPU whose name includes a known model."""
    return next((spec for model, spec in GPUS.items() if model in name), None)


def on_an_a10g(measurement: Measurement, device: str) -> dict[str, float] | None:
    """The figures rescaled to an A10G: decode by memory bandwidth, first token by fp16 throughput."""
    here, a10g = gpu_spec(device), GPUS["A10G"]
    if here is None:
        return None
    bandwidth, throughput = here[0] / a10g[0], here[1] / a10g[1]
    return {
        "first_token_ms": round(measurement.first_token_ms_median * throughput, 2),
        "decode_ms_per_token": round(measurement.decode_ms_per_token_median * bandwidth, 2),
        "tokens_per_s_per_sequence": round(measurement.tokens_per_s_per_sequence / bandwidth, 1),
    }


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
        "--shape", choices=sorted(SHAPES), default="qwen3-4b", help="the gold tier's by default"
    )
    parser.add_argument(
        "--no-awq", dest="awq", action="store_false", help="fp16 weights instead of AWQ 4-bit"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="a local model folder (weights); none: random"
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

    print(
        f"{device}, {engine}, {measurements[0].weights}, "
        f"prompts of {PROMPT_TOKENS[0]}-{PROMPT_TOKENS[1]} tokens"
    )
    print(
        f"{'batch':>5} {'first token ms':>15} {'decode ms/token':>16} {'tok/s/seq':>10} {'tok/s total':>12}"
    )
    for m in measurements:
        print(
            f"{m.batch:>5} {m.first_token_ms_median:>15.2f} {m.decode_ms_per_token_median:>16.2f} "
            f"{m.tokens_per_s_per_sequence:>10.1f} {m.tokens_per_s_total:>12.1f}"
        )
    rescaled = {m.batch: on_an_a10g(m, device) for m in measurements}
    for batch, a10g in rescaled.items():
        if a10g is not None:
            print(
                f"on an A10G (estimate), batch {batch}: first token ~{a10g['first_token_ms']:.1f} ms "
                f"(by fp16 throughput), decode ~{a10g['decode_ms_per_token']:.2f} ms/token = "
                f"{a10g['tokens_per_s_per_sequence']:.0f} tokens/s (by memory bandwidth)"
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
                "shape": args.shape,
                "awq": args.awq,
                "results": [asdict(m) for m in measurements],
                "a10g_estimates": rescaled,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
