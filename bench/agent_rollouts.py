"""Search-agent rollouts with each conversation's KV cache kept across turns, against re-encoding the whole
context every turn (issue 23), side by side in one process.

The same model (SmolLM2-135M-Instruct, float32), the same questions of the packaged fictional corpus
(a BM25 index built once in a temporary folder), the same agent settings, the same number of episodes
and the same seed: the search agent's training ``rollout_func`` runs once with ``reuse_kv_cache`` on and
once off, alternating over ``--repeats`` (off, on, then on, off). Sampling at temperature 1, so the two
sides' episodes differ after the first divergent draw; what is compared is seconds per model turn and
per generated token, and how many context tokens the cached side took from the cache.

The last line is ``ratio=X tokens_ratio=Y reused_share=Z``: the uncached side's seconds per turn over
the cached side's (above 1: reuse is faster), the same per generated token, and the share of context
tokens the cache supplied.

Usage::

    python bench/agent_rollouts.py --quick              # 4 episodes, 3 turns, 1 repeat
    python bench/agent_rollouts.py --episodes 8 --turns 4 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.episodes, args.turns, args.repeats = 4, 3, 1

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.models import resolve_model_path
    from polyrlaif.datasets.qa.fictional import corpus_path, load_questions
    from polyrlaif.domains.search_agent.agent import AgentConfig
    from polyrlaif.domains.search_agent.corpus import load_corpus
    from polyrlaif.domains.search_agent.index import build_index, load_retriever
    from polyrlaif.domains.search_agent.prompts import agent_prompt
    from polyrlaif.domains.search_agent.sampler import make_rollout_func
    from polyrlaif.domains.search_agent.tools import SearchTools

    torch.set_num_threads(args.threads)
    path = resolve_model_path(args.model)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    cfg = AgentConfig(max_turns=args.turns, max_observation_chars=600)
    with tempfile.TemporaryDirectory() as tmp:
        build_index(corpus_path(), Path(tmp) / "bm25", "bm25", show_progress=False)
        tools = SearchTools(
            load_retriever(Path(tmp) / "bm25", corpus_path=corpus_path()), load_corpus(corpus_path())
        )
        questions = load_questions()[: args.episodes]
        prompts = [agent_prompt(q.question, cfg) for q in questions]
        unwrap = SimpleNamespace(unwrap_model=lambda m: m)
        trainer = SimpleNamespace(model=model, processing_class=tok, accelerator=unwrap,
                                  args=SimpleNamespace(use_vllm=False))  # fmt: skip
        results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        order = [False, True] if args.repeats == 1 else [False, True, True, False] * (args.repeats // 2)
        for reuse in order:
            rollout = make_rollout_func(tools, cfg, max_new_tokens=args.max_new_tokens, temperature=1.0,
                                        reuse_kv_cache=reuse)  # fmt: skip
            torch.manual_seed(args.seed)
            start = time.perf_counter()
            out = rollout(prompts, trainer)
            seconds = time.perf_counter() - start
            turns = sum(len(t["steps"]) for t in out["trajectory"])
            written = sum(sum(m) for m in out["env_mask"])
            kv = rollout.kv  # type: ignore[attr-defined]  # context tokens from the cache, and computed
            share = kv["reused"] / max(1, kv["reused"] + kv["computed"])
            results[reuse].append({"seconds": seconds, "turns": turns, "tokens": written, "reused": share})
            print(f"reuse={reuse}: {seconds:.1f} s, {turns} turns, {written} model tokens kept, "
                  f"{share:.0%} of context tokens from the cache", flush=True)  # fmt: skip
    per_turn = {k: statistics.median(r["seconds"] / r["turns"] for r in v) for k, v in results.items()}
    per_token = {
        k: statistics.median(r["seconds"] / max(1, r["tokens"]) for r in v) for k, v in results.items()
    }
    print(f"seconds per turn: off {per_turn[False]:.3f}, on {per_turn[True]:.3f}")
    reused = statistics.median(r["reused"] for r in results[True])
    ratio, tokens_ratio = per_turn[False] / per_turn[True], per_token[False] / per_token[True]
    print(f"ratio={ratio:.2f} tokens_ratio={tokens_ratio:.2f} reused_share={reused:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
