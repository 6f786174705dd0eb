"""Judging text-to-image candidates (InstructEngine's two stages, then its cross-validation alignment).

Stage 1, the rules, are verifiers (:mod:`~polyrlaif.domains.text_to_image.verifier`). Stage 2 is a
multimodal judge that sees the image and the prompt, through the core's judge layer (answer cache keyed
by the prompt text and the image's bytes, judge ids, failure reasons):

* :class:`ClipJudge`: the cosine of the image and the prompt in an open_clip model, the cheap default;
* :class:`SlotYesNoJudge`: a vision-language model's p(yes) to "Does this image show ...?", one question
  per taxonomy slot the prompt fills (each named object group, and the relation), averaged.

Both also score each image under the prompt's *analogous* prompts (``meta["analogs"]``, prompts that
differ in one taxonomy axis), into ``Judgment.scores["under"]``. :func:`cross_validation_pairs` then makes
InstructEngine's cross-validation pairs: for analogous prompts A and B with best images a and b, a is
chosen over b for A and b over a for B when the scores agree both ways; the rest are dropped and counted.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge
from polyrlaif.core.log import get_logger
from polyrlaif.core.media import load_image
from polyrlaif.core.pairs import make_pair
from polyrlaif.core.records import Candidate, Judgment, PreferencePair, PromptRecord

__all__ = ["ClipBackend", "ClipJudge", "SlotYesNoJudge", "cross_validation_pairs", "slot_questions"]

log = get_logger(__name__)


def _image_of(cand: Candidate) -> str | None:
    return next((m.uri for m in cand.media if m.kind == "image"), None)


def _jobs(prompt: PromptRecord, cand: Candidate) -> list[tuple[str, str]]:
    """(prompt id, prompt text) the candidate is scored under: its own first, then the analogs."""
    return [(prompt.prompt_id, prompt.text), *dict(prompt.meta.get("analogs", {})).items()]


class ClipBackend:
    """An open_clip model that scores (image, text) pairs by cosine; loaded on first use.

    Args:
        arch: an open_clip architecture name, or a directory written by
            :func:`polyrlaif.core.clip.train_clip`.
        pretrained: an open_clip pretrained tag or a local weights file.
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    def __init__(self, arch: str, pretrained: str | None = None, *, device: str = "cpu") -> None:
        self.arch, self.pretrained, self.device = arch, pretrained, device
        self._loaded: tuple[Any, Any, Any] | None = None
        self.name = f"open_clip:{Path(arch).name if Path(arch).is_dir() else arch}:{self._weights_digest()}"

    def _weights_digest(self) -> str:
        """Content hash of the weights, so the judge id (and the cache) changes when they do."""
        files = [Path(self.pretrained)] if self.pretrained and Path(self.pretrained).is_file() else []
        if Path(self.arch).is_dir():
            files = sorted(p for p in Path(self.arch).iterdir() if p.is_file())
        if not files:
            return str(self.pretrained or "random")
        h = hashlib.sha256()
        for f in files:
            h.update(f.read_bytes())
        return h.hexdigest()[:12]

    def cosines(self, images: Sequence[str], texts: Sequence[str]) -> list[float]:
        """Cosine of each (image file, text) pair."""
        from polyrlaif.core.clip import clip_cosines, load_clip

        if self._loaded is None:
            self._loaded = load_clip(self.arch, self.pretrained, device=self.device)
        model, preprocess, tokenizer = self._loaded
        return clip_cosines(model, preprocess, tokenizer, list(images), list(texts))


class ClipJudge(BaseJudge):
    """``Judgment.score`` = the CLIP cosine of the image and its prompt; ``scores["under"]``: the cosine
    under each analogous prompt. A missing or unreadable image fails the judgment with the reason.

    Args:
        backend: a :class:`ClipBackend`.
        cache: optional answer cache.
        batch_size: (image, text) pairs per model call.
    """

    mode = "clip"
    kind = "reward"
    default_template = "{prompt}"
    required_fields = frozenset({"prompt"})
    allowed_fields = frozenset({"prompt"})

    def __init__(
        self,
        backend: ClipBackend,
        *,
        cache: JudgeCache | None = None,
        batch_size: int = 64,
        progress: bool = True,
    ) -> None:
        super().__init__(backend, cache=cache, batch_size=batch_size, progress=progress)  # type: ignore[arg-type]

    def _call(self, convs: list[list[dict[str, Any]]]) -> list[dict[str, Any] | str]:
        items = [(c[0]["content"][0]["path"], c[0]["content"][-1]["text"]) for c in convs]
        out: list[dict[str, Any] | str] = ["" for _ in items]
        ok = []
        for i, (path, _) in enumerate(items):
            try:
                load_image(path)
                ok.append(i)
            except Exception as exc:  # an unreadable image is this judgment's failure, not the round's
                out[i] = f"unreadable_image: {exc}"
        if ok:
            cos = self.backend.cosines([items[i][0] for i in ok], [items[i][1] for i in ok])  # type: ignore[attr-defined]
            for i, c in zip(ok, cos, strict=True):
                out[i] = {"cosine": float(c)}
        return out

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order."""

        def ask(texts: list[str], images: list[list[str]]) -> list[Any]:
            return self._ask(texts, self._call, images)

        return _judge_under_analogs(self, prompts, candidates, ask, key="cosine")


def slot_questions(text: str) -> list[str]:
    """The yes/no questions for a prompt: one per taxonomy slot it fills when it is in the draw world's
    grammar (each object group, the relation), else one question about the whole prompt."""
    from polyrlaif.datasets.draw import parse_prompt

    spec = parse_prompt(text)
    if spec is None:
        return [f"Does this image show {text.strip().rstrip('.')}? Answer Yes or No."]
    groups = [f"{o.count} {o.colour} {o.shape}{'s' if o.count > 1 else ''}" for o in spec.objects]
    out = [f"Does this image show {g}? Answer Yes or No." for g in groups]
    if spec.relation is not None and len(groups) == 2:
        side = "left" if spec.relation == "left_of" else "right"
        out.append(
            f"Is the {spec.objects[0].shape} to the {side} of the {spec.objects[1].shape}? Answer Yes or No."
        )
    return out


class SlotYesNoJudge(BaseJudge):
    """A vision-language judge: ``score`` = the mean p(yes) over the prompt's slot questions
    (:func:`slot_questions`), each asked with the image; ``scores["under"]`` likewise per analog.

    Args:
        backend: a judge backend that reads images (``transformers_vlm`` or an OpenAI-compatible VLM).
        cache: optional answer cache.
        batch_size: questions per backend call.
    """

    mode = "slot_yesno"
    kind = "yesno"
    default_template = "{prompt}"
    required_fields = frozenset({"prompt"})
    allowed_fields = frozenset({"prompt"})

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order."""

        def ask(texts: list[str], images: list[list[str]]) -> list[Any]:
            flat = [
                (q, im, i)
                for i, (t, im) in enumerate(zip(texts, images, strict=True))
                for q in slot_questions(t)
            ]
            answers = self._ask_yes_no([q for q, _, _ in flat], yes=("Yes", "yes"), no=("No", "no"),
                                       images=[im for _, im, _ in flat])  # fmt: skip
            per: dict[int, list[Any]] = defaultdict(list)
            for (_, _, i), a in zip(flat, answers, strict=True):
                per[i].append(a)
            return [_mean_answer(per[i]) for i in range(len(texts))]

        return _judge_under_analogs(self, prompts, candidates, ask, key="p_yes")


def _mean_answer(answers: list[Any]) -> Any:
    """One answer from a prompt's slot answers: the mean p(yes), or the first failure."""
    from polyrlaif.core.judges.modes import Answer

    bad = next((a for a in answers if a.raw is None or a.raw.get("p_yes") is None), None)
    h = hashlib.sha256("".join(a.prompt_hash for a in answers).encode()).hexdigest()
    if bad is not None:
        return Answer(h, None, error=bad.error or "backend_error: no probability", cached=bad.cached)
    mean = sum(a.raw["p_yes"] for a in answers) / len(answers)
    return Answer(
        h, {"p_yes": mean, "slots": [a.raw["p_yes"] for a in answers]}, cached=all(a.cached for a in answers)
    )


def _judge_under_analogs(
    judge: BaseJudge,
    prompts: Mapping[str, PromptRecord],
    candidates: Sequence[Candidate],
    ask: Any,
    *,
    key: str,
) -> list[Judgment]:
    """Score every candidate under its own prompt and each analog with ``ask(texts, images)``."""
    jobs = []
    for c in candidates:
        image = _image_of(c)
        for pid, text in _jobs(prompts[c.prompt_id], c):
            jobs.append((c.candidate_id, pid, text, image))
    answers = ask([t for _, _, t, _ in jobs], [[im] if im else [] for *_, im in jobs]) if jobs else []
    by_cand: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for (cid, pid, _, _), a in zip(jobs, answers, strict=True):
        by_cand[cid].append((pid, a))
    out = []
    for c in candidates:
        own_pid, own = by_cand[c.candidate_id][0]
        j = Judgment(
            candidate_id=c.candidate_id,
            judge_id=judge.judge_id,
            kind=judge.kind,
            prompt_id=c.prompt_id,
            judge_prompt_hash=own.prompt_hash,
            cached=own.cached,
        )
        if _image_of(c) is None:
            j.failure = "no_image: the candidate carries no image"
        elif own.raw is None or own.raw.get(key) is None:
            j.failure = own.error or f"backend_error: no {key}"
        else:
            j.score = float(own.raw[key])
            under = {
                pid: float(a.raw[key]) for pid, a in by_cand[c.candidate_id][1:] if a.raw and key in a.raw
            }
            j.scores = {key: j.score, "under": under}
        if j.failure:
            judge.stats.fail(j.failure)
        out.append(j)
    judge.stats.judgments += len(out)
    return out


def cross_validation_pairs(
    prompts: Mapping[str, PromptRecord],
    candidates: Sequence[Candidate],
    verdicts: Mapping[str, list[Judgment]],
    scores: Mapping[str, float | None],
    *,
    under_score: Any,
) -> tuple[list[PreferencePair], dict[str, float]]:
    """InstructEngine's cross-validation alignment over analogous prompts.

    For each two analogous prompts A and B, take each one's best-scored image, a and b. When ``a`` scores
    higher than ``b`` under A *and* ``b`` higher than ``a`` under B, both pairs are made (A: a over b;
    B: b over a); otherwise the two are dropped and counted.

    Args:
        under_score: ``(candidate, verdicts, prompt_id) -> float | None``, a candidate's score under a
            prompt (its own or an analog), from the same judgments as ``scores``.

    Returns:
        The pairs and ``{"groups", "agreed", "dropped", "added"}``.
    """
    best: dict[str, Candidate] = {}
    for c in candidates:
        s = scores.get(c.candidate_id)
        if s is not None and (c.prompt_id not in best or s > scores[best[c.prompt_id].candidate_id]):  # type: ignore[operator]
            best[c.prompt_id] = c
    seen: set[frozenset[str]] = set()
    pairs: list[PreferencePair] = []
    counts = {"comparisons": 0, "agreed": 0, "dropped": 0}
    for pid_a, a in best.items():
        for pid_b in prompts[pid_a].meta.get("analogs", {}):
            key = frozenset((pid_a, pid_b))
            if pid_b not in best or key in seen:
                continue
            seen.add(key)
            b = best[pid_b]
            counts["comparisons"] += 1
            a_a, b_a = (
                under_score(a, verdicts[a.candidate_id], pid_a),
                under_score(b, verdicts[b.candidate_id], pid_a),
            )
            b_b, a_b = (
                under_score(b, verdicts[b.candidate_id], pid_b),
                under_score(a, verdicts[a.candidate_id], pid_b),
            )
            if None in (a_a, b_a, b_b, a_b) or not (a_a > b_a and b_b > a_b):
                counts["dropped"] += 1
                continue
            counts["agreed"] += 1
            local_a = {a.candidate_id: a_a, b.candidate_id: b_a}
            local_b = {b.candidate_id: b_b, a.candidate_id: a_b}
            for prompt, chosen, rejected, sc in (
                (prompts[pid_a], a, b, local_a),
                (prompts[pid_b], b, a, local_b),
            ):
                pair = make_pair(prompt, chosen, rejected, sc, None)
                pair.provenance["cross_validation"] = {"analog": rejected.prompt_id}
                pairs.append(pair)
    counts["added"] = len(pairs)
    return pairs, {k: float(v) for k, v in counts.items()}
