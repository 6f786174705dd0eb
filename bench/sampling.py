"""Batched sampling (:class:`~polyrlaif.core.policy.CausalLMPolicy`) against one-at-a-time ``generate``.

Both sides use the same loaded model (SmolLM2-135M-Instruct by default; float32 on CPU, bfloat16 on
CUDA), the same prompts and the same sampling settings (temperature 0.8, top-p 0.95, no top-k cut,
``--max-new-tokens`` per completion), and draw ``--n`` completions per prompt:

* ``batched``: ``CausalLMPolicy.generate`` with ``batch_size=--batch-size`` prompts per forward batch,
  left-padded, each prompt expanded to ``n`` rows by ``num_return_sequences`` in one ``generate`` call.
* ``one_at_a_time``: what a naive user writes with plain transformers: a loop over (prompt, sample)
  calling ``model.generate(**tokenizer(prompt), do_sample=True, num_return_sequences=1, ...)``, one
  sequence per call, then decoding it. Prompts are the same rendered chat-template text the policy
  feeds (``policy.render``), tokenised the same way (no extra special tokens).

Prompts are the first ``--prompts`` HumanEval problems in their packaged order (HumanEval/0, /1, ...),
each as one user turn "Complete this function." plus the problem's prompt. New tokens are counted
the same way on both sides (:meth:`CausalLMPolicy._count_new_tokens`: generated tokens up to and
including the first stop token; a batched row's padding after it is not counted). Each run is timed
end to end (tokenising, generating, decoding); one short untimed generation warms the model up first.
Runs alternate (batched, one_at_a_time, then one_at_a_time, batched, ...) and the median tokens/s of
``--repeats`` is reported, since other load on the machine is noise. Printed per run: seconds, new
tokens, tokens/s and peak resident memory above the process's size at the run's start (plus peak
CUDA memory above the start on a GPU).

Usage::

    python bench/sampling.py --quick              # 8 prompts, 1 repeat: a few minutes on 2 cores
    python bench/sampling.py --prompts 16 --n 4 --max-new-tokens 64 --repeats 2
    python bench/sampling.py --model path/to/local/model --prompts 2 --n 2

The last line is ``ratio=X tokens_batched=A tokens_single=B``: batched tokens/s over one-at-a-time
tokens/s (medians), and the new tokens each side generated over all repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import PeakRSS

SIDES = ("batched", "one_at_a_time")


def humaneval_conversations(count: int) -> list[list[dict[str, str]]]:
    """The first ``count`` HumanEval problems, each as a one-turn conversation asking to complete it."""
    from polyrlaif.datasets.code_tasks import load_humaneval

    return [
        [{"role": "user", "content": f"Complete this function.\n\n{p['prompt']}"}]
        for p in load_humaneval(limit=count)
    ]


def run_batched(policy: Any, convs: list[Any], sampling: dict[str, Any], seed: int) -> int:
    """Sample with the policy's batched ``generate``; return the new tokens it counted."""
    before = policy.stats["new_tokens"]
    policy.generate(convs, seed=seed, **sampling)
    return int(policy.stats["new_tokens"] - before)


def run_one_at_a_time(policy: Any, convs: list[Any], sampling: dict[str, Any], seed: int) -> int:
    """Plain transformers, one sequence per ``generate`` call; return the new tokens (counted as ours)."""
    import torch

    model, tokenizer = policy.model, policy.tokenizer
    torch.manual_seed(seed)
    tokens = 0
    for conv in convs:
        prompt = policy.render(conv)
        for _ in range(sampling["n"]):
            enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
            out = model.generate(
                **enc,
                do_sample=True,
                num_return_sequences=1,
                temperature=sampling["temperature"],
                top_p=sampling["top_p"],
                top_k=0,  # the policy samples without a top-k cut too
                max_new_tokens=sampling["max_new_tokens"],
                pad_token_id=tokenizer.pad_token_id,
            )
            new = out[:, enc["input_ids"].shape[1] :]
            tokenizer.decode(new[0], skip_special_tokens=True)
            tokens += policy._count_new_tokens(new)
    return tokens


def timed(fn: Callable[[], int], device: str) -> dict[str, float]:
    """Run ``fn`` (which returns a token count) and measure its seconds and peak memory."""
    import torch

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        cuda_base = torch.cuda.memory_allocated()
    with PeakRSS() as mem:
        start = time.perf_counter()
        tokens = fn()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    got = {"seconds": seconds, "tokens": tokens, "peak_mb": mem.peak_mb}
    if cuda:
        got["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - cuda_base) / 2**20
    return got


def _describe(got: dict[str, float]) -> str:
    rate = got["tokens"] / got["seconds"]
    line = f"{got['seconds']:8.2f} s  {got['tokens']:6d} tokens  {rate:8.1f} tokens/s"
    line += f"  peak +{got['peak_mb']:.0f} MB"
    if "cuda_peak_mb" in got:
        line += f"  cuda peak +{got['cuda_peak_mb']:.0f} MB"
    return line


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a header, one line per run, a summary and ``ratio=X`` last."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct", help="alias or local model directory")
    p.add_argument("--prompts", type=int, default=16)
    p.add_argument("--n", type=int, default=4, help="completions per prompt")
    p.add_argument("--batch-size", type=int, default=8, help="prompts per batch on the batched side")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--dtype", default="auto", help="auto: float32 on CPU, bfloat16 on CUDA")
    p.add_argument("--quick", action="store_true", help="8 prompts, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.prompts, args.repeats = min(args.prompts, 8), 1
    if args.temperature <= 0:
        p.error("--temperature must be > 0: both sides sample")

    import logging

    import torch

    from polyrlaif.core.models import set_cpu_threads
    from polyrlaif.core.policy import CausalLMPolicy

    logging.disable(logging.WARNING)
    threads = set_cpu_threads()
    policy = CausalLMPolicy(args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size)
    convs = humaneval_conversations(args.prompts)
    sampling = {
        "n": args.n,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_new_tokens": args.max_new_tokens,
    }
    print(
        f"model {args.model} ({policy.model.dtype}); {len(convs)} prompts x n={args.n}, "
        f"max_new_tokens={args.max_new_tokens}, temperature {args.temperature}, top_p {args.top_p}, "
        f"batch_size={args.batch_size}; {args.repeats} repeats; torch {torch.__version__}, "
        f"{threads} threads, device {policy.device}",
        flush=True,
    )
    # untimed warm-up of both code paths: first-call allocations and lazy initialisation
    warm = dict(sampling, n=1, max_new_tokens=2)
    run_batched(policy, convs[:1], warm, args.seed)
    run_one_at_a_time(policy, convs[:1], warm, args.seed)

    runs: dict[str, Callable[[], int]] = {
        "batched": lambda: run_batched(policy, convs, sampling, args.seed),
        "one_at_a_time": lambda: run_one_at_a_time(policy, convs, sampling, args.seed),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SIDES}
    for rep in range(args.repeats):
        order = SIDES if rep % 2 == 0 else SIDES[::-1]  # alternate: load drift hits both
        for name in order:
            got = timed(runs[name], policy.device)
            results[name].append(got)
            print(f"  repeat {rep + 1} {name:13s} {_describe(got)}", flush=True)

    def rate(name: str) -> float:
        return statistics.median(r["tokens"] / r["seconds"] for r in results[name])

    sequences = len(convs) * args.n
    totals = {name: sum(int(r["tokens"]) for r in results[name]) for name in SIDES}
    for name in SIDES:
        per_seq = totals[name] / (sequences * args.repeats)
        peak = max(r["peak_mb"] for r in results[name])
        print(
            f"{name + ':':14s} {rate(name):8.1f} tokens/s (median of {args.repeats}), "
            f"{per_seq:.1f} new tokens per completion, peak +{peak:.0f} MB"
        )
    print(
        f"ratio={rate('batched') / rate('one_at_a_time'):.2f} "
        f"tokens_batched={totals['batched']} tokens_single={totals['one_at_a_time']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
