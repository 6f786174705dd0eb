"""Model FLOPs utilisation of our DPO step on a model built from a config (random weights).

The step is the fast backend's (``optim.backend=fast``): :func:`~polyrlaif.core.trainers.dpo_step.pair_logps`
on packed pairs, the DPO loss against reference log-probs computed once, backward, gradient clipping to
norm 1 and AdamW (fused on CUDA). The model is a Llama built from a preset (``1b``: Llama-3.2-1B's shape,
1.24B parameters; ``smollm2-135m``; ``tiny`` for tests), in bfloat16 on CUDA and float32 on CPU, with
``sdpa`` attention. Pairs are random tokens: ``--pairs`` per step, each a ``--prompt-tokens`` prompt
with two ``--completion-tokens`` completions.

Model FLOPs per step: 6 x non-embedding parameters x distinct tokens (each prompt once), plus
6 x hidden x vocabulary per completion token (the LM head runs only there), plus attention:
12 x layers x hidden per attended (query, key) pair, the causal pairs of each prompt and of each
completion with its prompt. MFU is that over the step time, against ``--peak-tflops`` (by default
the dense bf16 peak of a known GPU, or this CPU's float32 matmul rate, measured).

Usage::

    python bench/dpo_mfu.py --preset 1b --steps 10                 # on a GPU
    python bench/dpo_mfu.py --preset smollm2-135m --steps 3        # on CPU

The last line is ``mfu=X tflops=Y step_s=Z peak_mb=M``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from _common import PeakRSS, matmul_gflops

PRESETS: dict[str, dict[str, int]] = {
    "1b": {  # Llama-3.2-1B
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
    },
    "smollm2-135m": {
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "vocab_size": 49152,
    },
    "tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 512,
    },
}

#: Dense bf16 tensor-core peaks (TFLOP/s, without sparsity) by a substring of the device name.
GPU_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def step_flops(cfg: dict[str, int], pairs: int, prompt: int, completion: int) -> float:
    """Model FLOPs of one training step (forward and backward) on ``pairs`` pairs."""
    h, layers, inter = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    kv = h * cfg["num_key_value_heads"] // cfg["num_attention_heads"]
    body = layers * (2 * h * h + 2 * h * kv + 3 * h * inter)
    distinct = pairs * (prompt + 2 * completion)
    head = 6 * h * cfg["vocab_size"] * pairs * 2 * completion
    # causal (query, key) pairs: the prompt's, then each completion's with its prompt
    attended = pairs * (
        prompt * (prompt + 1) / 2 + 2 * (completion * prompt + completion * (completion + 1) / 2)
    )
    return 6 * body * distinct + head + 12 * layers * h * attended


def peak_tflops(device: str, given: float | None) -> tuple[float, str]:
    """The peak the MFU is measured against, and where it comes from."""
    import torch

    if given:
        return given, "--peak-tflops"
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(device)
        for key, value in GPU_PEAK_TFLOPS.items():
            if key in name:
                return value, f"{name} dense bf16 peak"
        raise SystemExit(f"unknown GPU {name!r}: pass --peak-tflops")
    return matmul_gflops() / 1000, "this CPU's float32 2048x2048 matmul rate"


def random_pairs(pairs: int, prompt: int, completion: int, vocab: int, seed: int) -> list[dict[str, list]]:
    """Token ids of ``pairs`` random preference pairs, as :func:`tokenize_pairs` returns them."""
    import torch

    gen = torch.Generator().manual_seed(seed)

    def ids(n: int) -> list[int]:
        return torch.randint(3, vocab, (n,), generator=gen).tolist()

    return [
        {"prompt_ids": ids(prompt), "chosen_ids": ids(completion), "rejected_ids": ids(completion)}
        for _ in range(pairs)
    ]


def main(argv: list[str] | None = None) -> int:
    """Time ``--steps`` DPO steps after ``--warmup`` and print the MFU."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="1b")
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--prompt-tokens", type=int, default=384)
    p.add_argument("--completion-tokens", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--peak-tflops", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import logging

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from polyrlaif.core.models import pick_device, set_cpu_threads
    from polyrlaif.core.trainers.dpo_step import dpo_loss, pair_logps, reference_logps

    logging.disable(logging.WARNING)
    device = pick_device(args.device)
    threads = set_cpu_threads()
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    cfg = PRESETS[args.preset]
    torch.manual_seed(args.seed)
    config = LlamaConfig(**cfg, max_position_embeddings=8192, tie_word_embeddings=False)
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    examples = random_pairs(
        args.pairs, args.prompt_tokens, args.completion_tokens, cfg["vocab_size"], args.seed
    )
    peak, source = peak_tflops(device, args.peak_tflops)
    flops = step_flops(cfg, args.pairs, args.prompt_tokens, args.completion_tokens)
    print(
        f"preset {args.preset} ({params / 1e9:.2f}B parameters, {dtype}); {args.pairs} pairs of "
        f"{args.prompt_tokens} + 2 x {args.completion_tokens} tokens; {args.steps} steps after "
        f"{args.warmup} warm-up; torch {torch.__version__}, device {device}, {threads} threads; "
        f"peak {peak:.3g} TFLOP/s ({source}); {flops / 1e12:.3g} TFLOP per step",
        flush=True,
    )
    kwargs: dict[str, Any] = {"pad_token_id": 0, "max_length": None}
    ref_c, ref_r = reference_logps(model, examples, batch_size=args.pairs, **kwargs)
    reference = torch.cat([ref_c, ref_r]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=device.startswith("cuda"))
    cuda = device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def step() -> float:
        sync()
        start = time.perf_counter()
        policy, n_tokens = pair_logps(model, examples, **kwargs)
        loss, _ = dpo_loss(policy, reference, n_tokens, loss_type="sigmoid", beta=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - start

    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        times = [step() for _ in range(args.steps)]
    peak_mb = torch.cuda.max_memory_allocated() / 2**20 if cuda else rss.peak_mb
    for i, t in enumerate(times, 1):
        print(f"  step {i:3d} {t:8.3f} s  {flops / t / 1e12:8.3g} TFLOP/s", flush=True)
    seconds = statistics.median(times)
    achieved = flops / seconds / 1e12
    tokens = args.pairs * (args.prompt_tokens + 2 * args.completion_tokens)
    print(f"median step {seconds:.3f} s, {tokens / seconds:.0f} distinct tokens/s, {achieved:.3g} TFLOP/s")
    print(f"mfu={achieved / peak:.3g} tflops={achieved:.3g} step_s={seconds:.3f} peak_mb={peak_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
