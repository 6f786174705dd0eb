"""What a unit-to-text transcriber makes of a run's continuations: length, runs to the cap, repeats.

The spoken_lm domain's judge reads continuations through a transcriber (``TranscriptVerifier``, in
context after the prompt, as a run does). A transcriber that never learned to stop runs on to
``max_new_tokens`` repeating itself ("sand. sand. sand."), and the judge then grades the repeats. For
each transcriber given, this transcribes the same continuations (a round's ``candidates.jsonl``) after
their prompts and prints the mean words per transcript, how many run over 40 words (the world's
continuations hold a sentence or two), the share of adjacent repeated words and the empty transcripts.

Usage::

    python bench/transcripts.py runs/spoken-v2/world runs/spoken-v3-judged/round_1/candidates.jsonl \\
        runs/spoken-v2/world/transcriber/model runs/spoken-v4-eos/transcriber/model --limit 200
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def repeats(text: str) -> float:
    """Share of adjacent word pairs that are the same word."""
    words = re.findall(r"[a-z]+", text.lower())
    return sum(a == b for a, b in zip(words, words[1:], strict=False)) / max(1, len(words) - 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("world", help="a built spoken world's folder (its data and units stages inside)")
    p.add_argument("candidates", help="a round's candidates.jsonl (continuations as units)")
    p.add_argument("transcribers", nargs="+", help="unit-to-text model folders to compare")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--max-new-tokens", type=int, default=96)
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from polyrlaif.core.io import read_jsonl
    from polyrlaif.core.records import Candidate
    from polyrlaif.domains.spoken_lm.data import load_prompts
    from polyrlaif.domains.spoken_lm.judge import TranscriptVerifier
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    world = Path(args.world)
    units = UnitTokenizer.load(json.loads((world / "units" / "stage.json").read_text())["outputs"]["units"])
    data = world / "data"
    prompts = {r.prompt_id: r for r in load_prompts(data / "prompts.jsonl", data, units).prompts}
    cands = [Candidate(c["candidate_id"], c["prompt_id"], c["text"]) for c in read_jsonl(args.candidates)]
    cands = [c for c in cands if c.prompt_id in prompts][: args.limit]
    table = Table(title=f"{len(cands)} continuations, transcribed after their prompts")
    for col in ("transcriber", "mean words", "over 40 words", "adjacent repeats", "empty"):
        table.add_column(col)
    for model in args.transcribers:
        verifier = TranscriptVerifier(
            model, with_prompt=True, max_new_tokens=args.max_new_tokens, batch_size=32
        )
        texts = [j.scores.get("transcript") or "" for j in verifier.verify(prompts, cands)]
        words = [len(t.split()) for t in texts]
        table.add_row(
            model,
            f"{sum(words) / len(words):.1f}",
            str(sum(w > 40 for w in words)),
            f"{sum(map(repeats, texts)) / len(texts):.3f}",
            str(sum(not t for t in texts)),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
