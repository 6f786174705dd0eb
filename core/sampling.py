"""A resumable sampler for chat-style text policies, shared by every text domain.

Prompts are cut into fixed batches in prompt order, and each batch is sampled with a seed derived from
the run seed, the round and the batch index. A resumed run therefore redoes exactly the batches that
were not yet written, with the same seeds, and produces the same artifact as an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import StageWriter
from polyrlaif.core.media import prompt_conversation
from polyrlaif.core.protocols import Policy
from polyrlaif.core.records import Candidate, PromptRecord

__all__ = ["TextSampler", "candidate_id"]


def candidate_id(round_idx: int, prompt_id: str, j: int) -> str:
    """Stable id of the j-th sample for a prompt in a round."""
    return f"r{round_idx}/{prompt_id}/{j}"


class TextSampler:
    """Samples ``n`` responses per prompt from a :class:`~polyrlaif.core.protocols.Policy`.

    Args:
        n: samples per prompt.
        temperature: sampling temperature (all samples share the decoding settings).
        top_p: nucleus threshold.
        max_new_tokens: generation budget.
        batch_size: prompts per resumable batch.
        seed: run seed.
        postprocess: optional ``(prompt, text) -> meta`` hook, e.g. to extract code from a response.
    """

    def __init__(
        self,
        *,
        n: int = 4,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        seed: int = 0,
        postprocess: Callable[[PromptRecord, str], dict[str, Any]] | None = None,
    ) -> None:
        self.n, self.temperature, self.top_p = n, temperature, top_p
        self.max_new_tokens, self.batch_size, self.seed = max_new_tokens, batch_size, seed
        self.postprocess = postprocess

    @classmethod
    def from_config(cls, cfg: Any, **kwargs: Any) -> TextSampler:
        """The sampler a run config asks for: its ``sampling`` section and ``run.seed``."""
        s = cfg.sampling
        return cls(
            n=s.n, temperature=s.temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens,
            batch_size=s.batch_size, seed=cfg.run.seed, **kwargs,
        )  # fmt: skip

    def sample(
        self, policy: Policy, prompts: Sequence[PromptRecord], *, round_idx: int, out_path: Path
    ) -> list[Candidate]:
        """Sample (resuming from ``out_path`` if an earlier run was interrupted) and return candidates."""
        from tqdm.auto import tqdm

        stage = StageWriter(out_path, key="candidate_id")
        order = [candidate_id(round_idx, p.prompt_id, j) for p in prompts for j in range(self.n)]
        if not stage.done:
            done = stage.finished_keys
            batches = [prompts[i : i + self.batch_size] for i in range(0, len(prompts), self.batch_size)]
            bar = tqdm(total=len(prompts) * self.n, desc=f"round {round_idx} sampling", unit="sample")
            for b, batch in enumerate(batches):
                ids = [candidate_id(round_idx, p.prompt_id, j) for p in batch for j in range(self.n)]
                if all(i in done for i in ids):
                    bar.update(len(ids))
                    continue
                outs = policy.generate(
                    [prompt_conversation(p) for p in batch],
                    n=self.n,
                    temperature=self.temperature,
                    top_p=self.top_p,
                    max_new_tokens=self.max_new_tokens,
                    seed=self.seed * 1_000_003 + round_idx * 10_007 + b,
                )
                rows = []
                for p, texts in zip(batch, outs, strict=True):
                    for j, text in enumerate(texts):
                        cand = Candidate(
                            candidate_id=candidate_id(round_idx, p.prompt_id, j),
                            prompt_id=p.prompt_id,
                            text=text,
                            policy=policy.model_id,
                            round=round_idx,
                            sampling={
                                "temperature": self.temperature,
                                "top_p": self.top_p,
                                "max_new_tokens": self.max_new_tokens,
                                "n": self.n,
                            },
                            meta=self.postprocess(p, text) if self.postprocess else {},
                        )
                        rows.append(cand.to_dict())
                stage.append(rows)
                bar.update(len(ids))
            bar.close()
            stage.finish(order=order)
        return [Candidate.from_dict(r) for r in stage.rows()]
