"""How often a judge LM prefers the coherent ending of a held-out spoken-world story (on its written text).

For each StoryCloze item of a built speech world (``storycloze/sSC.jsonl``: the story's opening, its
coherent ending and an incoherent one), the judge model scores both endings after the opening, four
ways, and a story counts 1 when the coherent ending scores higher (0.5 on a tie):

* ``yesno``: the spoken_lm domain's coherence yes/no judge (``domain.judge_mode=yesno``), p(yes);
* ``loglik``: the log-likelihood judge (``domain.judge_mode=loglik``): exp(mean token log-prob);
* ``sum``: the ending's summed log-prob after the opening;
* ``pmi``: that minus the ending's log-prob with no opening.

This measures the judge's signal before any transcriber or unit LM is involved: an upper bound on how
well its feedback can point at coherence. Printed: the agreement of each, with a 95% bootstrap interval.

Usage::

    python bench/spoken_judge_agreement.py runs/spoken-lm-synthetic/world/data --limit 60
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("world", help="a built speech world's data folder (holds storycloze/sSC.jsonl)")
    p.add_argument("--model", default="smollm2-135m-instruct", help="the judge model")
    p.add_argument("--limit", type=int, default=None, help="the first stories only")
    args = p.parse_args()

    from polyrlaif.core.judges.backends import TransformersBackend
    from polyrlaif.core.models import set_cpu_threads
    from polyrlaif.core.records import Candidate, PromptRecord
    from polyrlaif.core.significance import bootstrap_interval
    from polyrlaif.domains.spoken_lm.judge import coherence_judge

    set_cpu_threads()
    rows = [json.loads(x) for x in (Path(args.world) / "storycloze" / "sSC.jsonl").read_text().splitlines()]
    rows = rows[: args.limit or None]
    backend = TransformersBackend(args.model, device="cpu", dtype="float32", batch_size=16)
    prompts = {r["id"]: PromptRecord(r["id"], r["prompt"], meta={"transcript": r["prompt"]}) for r in rows}
    cands = [
        Candidate(f"{r['id']}/{k}", r["id"], r[f"{k}_ending"]) for r in rows for k in ("correct", "incorrect")
    ]
    ctxs = [
        {"prompt_transcript": prompts[c.prompt_id].text, "continuation_transcript": c.text} for c in cands
    ]
    scores: dict[str, list[float]] = {}
    logprobs: list[float] = []
    for mode in ("yesno", "loglik"):
        judged = coherence_judge(mode, backend, batch_size=16).judge(prompts, cands, ctxs)
        scores[mode] = [j.score if j.score is not None else float("nan") for j in judged]
        if mode == "loglik":  # its summed log-prob of the ending after the opening, reused below
            logprobs = [j.scores.get("logprob", float("nan")) for j in judged]
    bare = backend.continuation_logprobs([("", c.text) for c in cands])
    scores["sum"] = logprobs
    scores["pmi"] = [c - b[0] for c, b in zip(logprobs, bare, strict=True)]

    def agree(r: list[dict]) -> dict[str, float]:
        return {"agreement": sum(x["v"] for x in r) / len(r)}

    print(f"{len(rows)} held-out stories, judge {args.model}")
    for name, s in scores.items():
        items = [
            {"id": i, "v": 1.0 if a > b else 0.5 if a == b else 0.0}
            for i, (a, b) in enumerate(zip(s[::2], s[1::2], strict=True))
        ]
        ci = bootstrap_interval(items, agree, "agreement", seed=0)
        print(f"{name:>7}: coherent ending preferred {ci.value:.3f} [{ci.low:.3f}, {ci.high:.3f}]")


if __name__ == "__main__":
    main()
