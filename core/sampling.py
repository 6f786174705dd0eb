"""Resumable samplers: :class:`TextSampler` for chat-style text policies, :class:`MediaSampler` for
policies that produce media (images, audio).

Prompts are cut into fixed batches in prompt order, and each batch is sampled with a seed derived from
the run seed, the round and the batch index (for media, each output has its own seed, recorded on its
candidate). A resumed run therefore redoes exactly the batches that were not yet written, with the same
seeds, and produces the same artifact as an uninterrupted run.

Since a batch depends only on its prompts and its seed, the batches can be drawn anywhere: the samplers
hand them to an executor (:mod:`polyrlaif.core.executor`; ``run.sample_replicas`` Ray actors, each with
its own copy of the policy, or this process) and write each batch's candidates in order as it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.executor import Executor, LocalExecutor
from polyrlaif.core.io import StageWriter, sha256_text
from polyrlaif.core.media import prompt_conversation, write_media
from polyrlaif.core.protocols import MediaPolicy, Policy
from polyrlaif.core.records import Candidate, PromptRecord

__all__ = [
    "MediaSampler",
    "TextSampler",
    "candidate_id",
    "generate_batch",
    "generate_media_batch",
    "media_seed",
]


def generate_batch(policy: Policy, job: tuple[list[Any], dict[str, Any]]) -> list[list[str]]:
    """One text batch: ``policy.generate(conversations, **decoding)`` (what an executor's worker runs)."""
    conversations, decoding = job
    return policy.generate(conversations, **decoding)


def generate_media_batch(policy: MediaPolicy, job: tuple[list[str], list[int]]) -> list[bytes]:
    """One media batch: ``policy.generate_media(prompts, seeds=seeds)``."""
    prompts, seeds = job
    return policy.generate_media(prompts, seeds=seeds)


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
        self,
        policy: Policy,
        prompts: Sequence[PromptRecord],
        *,
        round_idx: int,
        out_path: Path,
        executor: Executor | None = None,
    ) -> list[Candidate]:
        """Sample (resuming from ``out_path`` if an earlier run was interrupted) and return candidates.
        ``executor``: where the batches are drawn (this process when ``None``): the same candidates."""
        from tqdm.auto import tqdm

        stage = StageWriter(out_path, key="candidate_id")
        order = [candidate_id(round_idx, p.prompt_id, j) for p in prompts for j in range(self.n)]
        if not stage.done:
            done = stage.finished_keys
            batches = [prompts[i : i + self.batch_size] for i in range(0, len(prompts), self.batch_size)]
            todo = [
                (b, batch)
                for b, batch in enumerate(batches)
                if not all(
                    candidate_id(round_idx, p.prompt_id, j) in done for p in batch for j in range(self.n)
                )
            ]
            finished = sum(len(batch) for batch in batches) - sum(len(batch) for _, batch in todo)
            bar = tqdm(
                total=len(prompts) * self.n,
                initial=finished * self.n,
                desc=f"round {round_idx} sampling",
                unit="sample",
            )
            decoding = {"n": self.n, "temperature": self.temperature, "top_p": self.top_p,
                        "max_new_tokens": self.max_new_tokens}  # fmt: skip
            jobs = [
                (
                    [prompt_conversation(p) for p in batch],
                    {**decoding, "seed": self.seed * 1_000_003 + round_idx * 10_007 + b},
                )
                for b, batch in todo
            ]

            def write(k: int, outs: list[list[str]]) -> None:
                batch, rows = todo[k][1], []
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
                bar.update(len(rows))

            (executor or LocalExecutor()).map(policy, generate_batch, jobs, desc="sampling", on_result=write)
            bar.close()
            stage.finish(order=order)
        return [Candidate.from_dict(r) for r in stage.rows()]


def _file_safe(name: str) -> str:
    """A prompt id as one folder name (ids may hold ``/``)."""
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return safe if safe == name and name not in {".", ".."} else f"{safe}-{sha256_text(name)[:8]}"


def media_seed(seed: int, round_idx: int, prompt_index: int, j: int) -> int:
    """The seed of the j-th output for the prompt at ``prompt_index`` in a round (recorded per candidate)."""
    return (seed * 1_000_003 + round_idx * 10_007 + prompt_index * 101 + j) % (2**31 - 1)


class MediaSampler:
    """Samples ``n`` media outputs per prompt from a :class:`~polyrlaif.core.protocols.MediaPolicy`.

    Each output has its own seed (:func:`media_seed`), recorded in the candidate's ``sampling`` with the
    policy's fixed settings, so every image or waveform can be produced again from its record. The files
    go to ``<out_path's folder>/media/<prompt_id>/<j><suffix>``, written atomically with their SHA-256;
    a candidate's ``text`` is empty and its ``media`` lists the file.

    Args:
        n: outputs per prompt.
        batch_size: prompts per resumable batch.
        seed: run seed.
    """

    def __init__(self, *, n: int = 4, batch_size: int = 8, seed: int = 0) -> None:
        if n < 1 or batch_size < 1:
            raise ValueError(f"MediaSampler needs n >= 1 and batch_size >= 1, got {n} and {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed

    @classmethod
    def from_config(cls, cfg: Any) -> MediaSampler:
        """The sampler a run config asks for: ``sampling.n``, ``sampling.batch_size`` and ``run.seed``."""
        return cls(n=cfg.sampling.n, batch_size=cfg.sampling.batch_size, seed=cfg.run.seed)

    def sample(
        self,
        policy: MediaPolicy,
        prompts: Sequence[PromptRecord],
        *,
        round_idx: int,
        out_path: Path,
        desc: str | None = None,
        executor: Executor | None = None,
    ) -> list[Candidate]:
        """Generate (resuming from ``out_path`` if an earlier run was interrupted) and return candidates;
        ``desc`` labels the progress bar (default ``round <round_idx> generating``); ``executor``: where
        the batches are drawn (this process when ``None``)."""
        from tqdm.auto import tqdm

        media_dir = Path(out_path).parent / "media"
        stage = StageWriter(out_path, key="candidate_id")
        order = [candidate_id(round_idx, p.prompt_id, j) for p in prompts for j in range(self.n)]
        if not stage.done:
            done = stage.finished_keys
            settings = dict(policy.settings())
            todo = []
            for start in range(0, len(prompts), self.batch_size):
                batch = list(enumerate(prompts[start : start + self.batch_size], start))
                jobs = [(i, p, j) for i, p in batch for j in range(self.n)]
                if not all(candidate_id(round_idx, p.prompt_id, j) in done for _, p, j in jobs):
                    todo.append((jobs, [media_seed(self.seed, round_idx, i, j) for i, _, j in jobs]))
            total = len(prompts) * self.n
            bar = tqdm(
                total=total,
                initial=total - sum(len(jobs) for jobs, _ in todo),
                desc=desc or f"round {round_idx} generating",
                unit=policy.media_kind,
            )

            def write(k: int, outputs: list[bytes]) -> None:
                (jobs, seeds), rows = todo[k], []
                for (_, p, j), s, data in zip(jobs, seeds, outputs, strict=True):
                    path = media_dir / _file_safe(p.prompt_id) / f"{j}{policy.suffix}"
                    ref = write_media(path, data, policy.media_kind)
                    cand = Candidate(
                        candidate_id=candidate_id(round_idx, p.prompt_id, j),
                        prompt_id=p.prompt_id,
                        text="",
                        policy=policy.model_id,
                        round=round_idx,
                        sampling={**settings, "seed": s, "n": self.n},
                        media=[ref],
                    )
                    rows.append(cand.to_dict())
                stage.append(rows)
                bar.update(len(jobs))

            work = [([p.text for _, p, _ in jobs], seeds) for jobs, seeds in todo]
            (executor or LocalExecutor()).map(
                policy, generate_media_batch, work, desc="generating", on_result=write
            )
            bar.close()
            stage.finish(order=order)
        return [Candidate.from_dict(r) for r in stage.rows()]
