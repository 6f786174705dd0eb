"""Utterance scoring with a unit LM: packed :func:`score_utterances` against a one-at-a-time loop.

Both sides score the same utterances with the same model: a tiny unit LM built by
:func:`~polyrlaif.domains.spoken_lm.adapter.build_tiny_unit_lm` over ``--units`` unit tokens (hidden
64, 2 layers, 4 heads by default; or ``--model``, any local causal unit LM), float32 by default.
Utterances are random unit strings of ``--min-len`` to ``--max-len`` units (uniform; 50-300 is the
length of 1-6 s of deduplicated HuBERT units), drawn from ``--seed``.

* ``packed``: ``score_utterances(model, tokenizer, texts, batch_size=--batch-size)``: batches laid end
  to end in one row, attention within each utterance, the LM head only where a token is scored.
* ``one_at_a_time``: what a plain transformers user writes: for each utterance, tokenise it, run
  ``model(input_ids)`` on BOS + its tokens, ``log_softmax`` the logits and gather each next token.

Each run is timed end to end (tokenising, forward passes, results as Python floats); an untimed run of
a few utterances warms both paths up first. Runs alternate (packed, one_at_a_time, then one_at_a_time,
packed, ...) and the median utterances/s of ``--repeats`` is reported, since other load on the machine
is noise. Printed per run: seconds, utterances/s, tokens/s and peak resident memory above the size at
the run's start (plus peak CUDA memory on a GPU).

Usage::

    python bench/unit_lm_scoring.py --quick          # 64 utterances, 2 repeats: well under 2 minutes
    python bench/unit_lm_scoring.py --utterances 512 --repeats 3 --device cuda

The last line is ``ratio=X max_score_diff=Y``: packed utterances/s over one-at-a-time utterances/s
(medians), and the largest difference of an utterance's summed log-likelihood between the two sides.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _common import PeakRSS

SIDES = ("packed", "one_at_a_time")


def random_utterances(count: int, units: int, min_len: int, max_len: int, seed: int) -> list[str]:
    """``count`` random unit strings of ``min_len`` to ``max_len`` units over ``units`` unit tokens."""
    from polyrlaif.domains.spoken_lm.units import units_to_text

    rng = random.Random(seed)
    return [
        units_to_text([rng.randrange(units) for _ in range(rng.randint(min_len, max_len))])
        for _ in range(count)
    ]


def score_one_at_a_time(model: Any, tokenizer: Any, texts: list[str]) -> list[tuple[float, float]]:
    """Plain transformers, one utterance per forward: ``(sum, mean)`` log-likelihood after BOS."""
    import torch

    device = model.get_output_embeddings().weight.device
    out = []
    with torch.no_grad():
        for text in texts:
            ids = [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
            x = torch.tensor([ids], device=device)
            logps = model(input_ids=x).logits[0, :-1].float().log_softmax(-1)
            token = logps.gather(1, x[0, 1:, None])[:, 0]
            out.append((token.sum().item(), token.mean().item()))
    return out


def timed(fn: Callable[[], Any], device: str) -> tuple[dict[str, float], Any]:
    """Run ``fn``; its seconds and peak memory, and what it returned."""
    import torch

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        cuda_base = torch.cuda.memory_allocated()
    with PeakRSS() as mem:
        start = time.perf_counter()
        result = fn()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    got = {"seconds": seconds, "peak_mb": mem.peak_mb}
    if cuda:
        got["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - cuda_base) / 2**20
    return got, result


def _describe(got: dict[str, float], utterances: int, tokens: int) -> str:
    s = got["seconds"]
    line = f"{s:8.3f} s  {utterances / s:8.1f} utt/s  {tokens / s:10.0f} tokens/s"
    line += f"  peak +{got['peak_mb']:.0f} MB"
    if "cuda_peak_mb" in got:
        line += f"  cuda peak +{got['cuda_peak_mb']:.0f} MB"
    return line


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a header, one line per run, a summary and ``ratio=X`` last."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="a local causal unit LM (default: build the tiny one)")
    p.add_argument("--units", type=int, default=500, help="unit vocabulary of the tiny LM")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--utterances", type=int, default=256)
    p.add_argument("--min-len", type=int, default=50)
    p.add_argument("--max-len", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16, help="utterances per packed forward pass")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--quick", action="store_true", help="64 utterances, 2 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.utterances, args.repeats = min(args.utterances, 64), min(args.repeats, 2)

    import logging

    import torch

    from polyrlaif.core.models import load_causal_lm, set_cpu_threads
    from polyrlaif.domains.spoken_lm.adapter import build_tiny_unit_lm, score_utterances
    from polyrlaif.domains.spoken_lm.units import unit_token

    logging.disable(logging.WARNING)
    threads = set_cpu_threads()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or str(
            build_tiny_unit_lm(
                f"{tmp}/unit_lm",
                [unit_token(i) for i in range(args.units)],
                seed=args.seed,
                hidden=args.hidden,
                layers=args.layers,
                heads=args.heads,
            )
        )
        model, tokenizer = load_causal_lm(path, dtype=args.dtype, device=args.device)
    device = str(model.get_output_embeddings().weight.device)
    texts = random_utterances(args.utterances, args.units, args.min_len, args.max_len, args.seed)
    tokens = sum(len(t.split()) for t in texts)
    print(
        f"model {args.model or 'tiny unit LM'} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M "
        f"params, {model.dtype}, attention {model.config._attn_implementation}); {len(texts)} utterances "
        f"of {args.min_len}-{args.max_len} units ({tokens} tokens), batch_size={args.batch_size}; "
        f"{args.repeats} repeats; torch {torch.__version__}, {threads} threads, device {device}",
        flush=True,
    )
    # untimed warm-up of both code paths: first-call allocations, kernel selection
    score_utterances(model, tokenizer, texts[:4], batch_size=args.batch_size)
    score_one_at_a_time(model, tokenizer, texts[:4])

    runs: dict[str, Callable[[], Any]] = {
        "packed": lambda: score_utterances(model, tokenizer, texts, batch_size=args.batch_size),
        "one_at_a_time": lambda: score_one_at_a_time(model, tokenizer, texts),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SIDES}
    scores: dict[str, Any] = {}
    for rep in range(args.repeats):
        order = SIDES if rep % 2 == 0 else SIDES[::-1]  # alternate: load drift hits both
        for name in order:
            got, scores[name] = timed(runs[name], device)
            results[name].append(got)
            print(f"  repeat {rep + 1} {name:13s} {_describe(got, len(texts), tokens)}", flush=True)

    def rate(name: str) -> float:
        return statistics.median(len(texts) / r["seconds"] for r in results[name])

    for name in SIDES:
        peak = max(r["peak_mb"] for r in results[name])
        median = f"{rate(name):8.1f} utterances/s (median of {args.repeats})"
        print(f"{name + ':':14s} {median}, peak +{peak:.0f} MB")
    pairs = list(zip(scores["packed"], scores["one_at_a_time"], strict=True))
    sum_diff = max(abs(a[0] - b[0]) for a, b in pairs)
    mean_diff = max(abs(a[1] - b[1]) for a, b in pairs)
    print(f"largest difference: summed log-likelihood {sum_diff:.2e}, per-token mean {mean_diff:.2e}")
    print(f"ratio={rate('packed') / rate('one_at_a_time'):.2f} max_score_diff={sum_diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
