"""A trained reward model as a scorer, a TRL-style reward function and a judge.

A reward model here is a sequence-classification checkpoint with one label (what
:class:`~polyrlaif.core.trainers.reward_model.RewardModelTrainer` publishes): it reads the whole
conversation, prompt and answer, and its head's output at the last non-padding token is the reward.
Training and scoring build that input with the same function, :func:`reward_model_input`, so a score
at RL time is exactly what the model was fitted to at training time.

Three views of one model:

* :class:`RewardModelScorer` -- ``score(prompts, completions) -> list[float]``, batched, no gradients;
* :meth:`RewardModelScorer.as_reward_fn` -- TRL's reward signature ``(prompts, completions, **columns)
  -> list[float | None]`` for online RL, a failure (an image in the prompt, an over-long input, a
  forward pass that raised) becoming ``None`` and counted in ``stats``;
* :class:`RewardModelJudge` -- the core :class:`~polyrlaif.core.protocols.Judge`, for offline pair mining.

Prompts and completions are strings or chat message lists (TRL's GRPO passes messages for
conversational data). A string prompt is one user turn and a string completion one assistant turn,
rendered with the tokenizer's chat template; a tokenizer without one gets the plain concatenation,
ended with EOS (TRL's "standard" preference format).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.modes import JudgeStats
from polyrlaif.core.judges.reward_scorer import BaseRewardScorer
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "MEDIA_FAILURE",
    "RewardModelJudge",
    "RewardModelScorer",
    "conversation",
    "reward_model_input",
    "score_ids",
    "weights_digest",
]

log = logging.getLogger(__name__)

#: Why a text reward model cannot score a prompt or answer that carries images, video or audio.
MEDIA_FAILURE = (
    "reward_model_media: a text reward model cannot see images, video or audio "
    "(a vision reward model scores prompts with images or video: core.judges.vision_reward_model)"
)

_MEDIA_PARTS = frozenset({"image", "image_url", "video", "video_url", "audio", "input_audio"})


def _message_text(message: Mapping[str, Any]) -> str:
    """The text of one chat message whose content is a string or a list of typed parts.

    Raises:
        ValueError: the message carries media (:data:`MEDIA_FAILURE`) or is malformed.
    """
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        raise ValueError(f"reward_model_input: message content is a {type(content).__name__}")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in _MEDIA_PARTS:
            raise ValueError(MEDIA_FAILURE)
        if kind != "text":
            raise ValueError(f"reward_model_input: unknown content part {part!r}")
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def _messages(x: Any, role: str) -> list[dict[str, str]]:
    if isinstance(x, str):
        return [{"role": role, "content": x}]
    if not isinstance(x, (list, tuple)) or not all(isinstance(m, Mapping) for m in x):
        raise ValueError(f"reward_model_input: expected a string or chat messages, got {type(x).__name__}")
    return [{"role": str(m.get("role", role)), "content": _message_text(m)} for m in x]


def conversation(prompt: str | Sequence[Mapping[str, Any]], completion: Any) -> list[dict[str, str]]:
    """The chat a reward model reads: the prompt's turns, then the completion's (string contents).

    Args:
        prompt: a string (one user turn) or chat messages.
        completion: a string (one assistant turn) or chat messages (TRL's conversational completions).

    Raises:
        ValueError: a message carries images, video or audio (:data:`MEDIA_FAILURE`), or the input is
            neither a string nor chat messages.
    """
    return _messages(prompt, "user") + _messages(completion, "assistant")


def reward_model_input(
    tokenizer: Any, prompt: str | Sequence[Mapping[str, Any]], completion: Any
) -> list[int]:
    """The token ids a reward model scores for ``(prompt, completion)``; training and scoring both use it.

    With a chat template: the rendered conversation (:func:`conversation`), tokenized without adding
    special tokens again (as ``apply_chat_template(tokenize=True)`` does). Without one: the prompt's
    and completion's text concatenated, tokenized as the tokenizer does by default, ending with EOS.

    Raises:
        ValueError: as :func:`conversation`.
    """
    messages = conversation(prompt, completion)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    text = "".join(m["content"] for m in messages)
    ids = list(tokenizer(text)["input_ids"])
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids.append(tokenizer.eos_token_id)
    return ids


def score_ids(
    model: Any, ids: Sequence[Sequence[int]], *, pad_token_id: int, batch_size: int = 16
) -> list[float]:
    """Rewards of token sequences: batched forward passes without gradients, in the input order.

    Sequences are sorted by length so each batch pads little; padding is on the right and the model
    reads its score at the last non-padding token (``config.pad_token_id`` must be set).

    Args:
        model: a sequence-classification model with one label, on its device.
        ids: one token-id list per input.
        pad_token_id: the padding id (the model's ``config.pad_token_id``).
        batch_size: sequences per forward pass.

    Returns:
        One float per sequence.
    """
    import torch

    device = next(model.parameters()).device
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out: list[float] = [0.0] * len(ids)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                width = max(len(ids[i]) for i in chunk)
                input_ids = torch.full((len(chunk), width), pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    input_ids[row, : len(ids[i])] = torch.tensor(list(ids[i]), dtype=torch.long)
                    mask[row, : len(ids[i])] = 1
                logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
                for row, value in zip(chunk, logits[:, 0].float().cpu().tolist(), strict=True):
                    out[row] = float(value)
    finally:
        model.train(was_training)
    return out


@functools.lru_cache(maxsize=64)
def _digest(files: tuple[tuple[str, int, int], ...], root: str) -> str:
    h = hashlib.sha256()
    for name, _, _ in files:
        h.update(name.encode("utf-8") + b"\0")
        with open(os.path.join(root, name), "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def weights_digest(path: str | Path) -> str:
    """SHA-256 over a checkpoint's weight files and ``config.json`` (memoised by name, size and mtime).

    Raises:
        FileNotFoundError: ``path`` is not a local directory (a hub id: download it first), or it holds
            no weight files.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a local checkpoint directory, so its weights cannot be hashed")
    names = sorted(
        p.name
        for p in root.iterdir()
        if p.is_file() and (p.suffix in (".safetensors", ".bin") or p.name == "config.json")
    )
    if not any(n != "config.json" for n in names):
        raise FileNotFoundError(f"{root}: no weight files (*.safetensors, *.bin) to hash")
    stats = tuple((n, (root / n).stat().st_size, (root / n).stat().st_mtime_ns) for n in names)
    return _digest(stats, str(root))


class RewardModelScorer(BaseRewardScorer):
    """Scores (prompt, completion) pairs with a sequence-classification reward model.

    The model loads on first use, in eval mode, with gradients never taken. Settings (path, device,
    batch size, dtype, max length) and :attr:`stats` are :class:`BaseRewardScorer`'s; ``path`` may also
    be a hub id.
    """

    _tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            from polyrlaif.core.models import pick_device, pick_dtype, resolve_model_path

            path = resolve_model_path(self.path)
            device = pick_device(self.device)
            tokenizer = AutoTokenizer.from_pretrained(path)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = AutoModelForSequenceClassification.from_pretrained(
                path, dtype=pick_dtype(self.dtype, device)
            )
            if model.config.num_labels != 1:
                raise ValueError(
                    f"{path}: a reward model has num_labels=1, this one {model.config.num_labels}"
                )
            if model.config.pad_token_id is None:
                model.config.pad_token_id = tokenizer.pad_token_id
            if self.max_length is None:
                self.max_length = getattr(model.config, "max_position_embeddings", None)
            self._model, self._tokenizer = model.to(device).eval(), tokenizer
        return self._model, self._tokenizer

    @property
    def model(self) -> Any:
        """The loaded sequence-classification model."""
        return self._load()[0]

    @property
    def tokenizer(self) -> Any:
        """The reward model's tokenizer (with a pad token)."""
        return self._load()[1]

    def try_score(
        self, prompts: Sequence[Any], completions: Sequence[Any]
    ) -> tuple[list[float | None], list[str | None]]:
        """Score what can be scored; say why for the rest.

        Returns:
            ``(scores, failures)``: per input, a float and ``None``, or ``None`` and the reason
            (``reward_model_media``, ``reward_model_input``, ``reward_model_too_long``,
            ``reward_model_error``: the text before the first ``:``).

        Raises:
            ValueError: ``prompts`` and ``completions`` differ in length.
        """
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        model, tokenizer = self._load()
        scores: list[float | None] = [None] * len(prompts)
        failures: list[str | None] = [None] * len(prompts)
        ok: list[int] = []
        ids: list[list[int]] = []
        for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
            try:
                seq = reward_model_input(tokenizer, p, c)
            except ValueError as exc:
                failures[i] = str(exc)
                continue
            if self.max_length is not None and len(seq) > self.max_length:
                failures[i] = f"reward_model_too_long: {len(seq)} tokens, over max_length={self.max_length}"
                continue
            ok.append(i)
            ids.append(seq)
        if ids:
            try:
                values = score_ids(
                    model, ids, pad_token_id=model.config.pad_token_id, batch_size=self.batch_size
                )
            except Exception as exc:  # a failed forward pass is each input's failure, not the caller's crash
                log.warning("reward model forward pass failed: %s: %s", type(exc).__name__, exc)
                for i in ok:
                    failures[i] = f"reward_model_error: {type(exc).__name__}: {exc}"
            else:
                for i, value in zip(ok, values, strict=True):
                    scores[i] = value
        return scores, failures


class RewardModelJudge:
    """A reward model as a :class:`~polyrlaif.core.protocols.Judge`: one ``reward`` judgment per candidate.

    ``judge_id`` is ``<name>:<first 12 hex digits of the weights' SHA-256>``, so judgments (and judge
    caches) from different reward models never mix. A prompt or candidate that carries media, an
    over-long input or a failed forward pass gives a judgment with ``failure`` set and no score.

    Args:
        scorer: a :class:`RewardModelScorer`, or the reward model's directory.
        name: the first part of ``judge_id``.
        **scorer_kwargs: passed to :class:`RewardModelScorer` when ``scorer`` is a path.
    """

    kind = "reward"

    def __init__(
        self, scorer: RewardModelScorer | str | Path, *, name: str = "reward_model", **scorer_kwargs: Any
    ) -> None:
        self.scorer = (
            scorer if isinstance(scorer, RewardModelScorer) else RewardModelScorer(scorer, **scorer_kwargs)
        )
        self.name = name
        self.stats = JudgeStats()
        self._judge_id: str | None = None

    @property
    def judge_id(self) -> str:
        """``<name>:<weights hash>``; hashing reads the weights once."""
        if self._judge_id is None:
            from polyrlaif.core.models import resolve_model_path

            self._judge_id = f"{self.name}:{weights_digest(resolve_model_path(self.scorer.path))[:12]}"
        return self._judge_id

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """Score every candidate's answer to its prompt; ``contexts`` are recorded, not shown."""
        recs = [prompts[c.prompt_id] for c in candidates]
        ps = [r.messages or r.text for r in recs]
        # media the model cannot see fails up front; the rest is scored in one batched call
        text_only = [
            i for i, (c, r) in enumerate(zip(candidates, recs, strict=True)) if not (r.media or c.media)
        ]
        scores, failures = self.scorer.try_score(
            [ps[i] for i in text_only], [candidates[i].text for i in text_only]
        )
        results = {i: (s, f) for i, s, f in zip(text_only, scores, failures, strict=True)}
        self.stats.calls += 1
        out = []
        for i, cand in enumerate(candidates):
            score, failure = results.get(i, (None, MEDIA_FAILURE))
            j = Judgment(
                candidate_id=cand.candidate_id,
                judge_id=self.judge_id,
                kind=self.kind,
                prompt_id=cand.prompt_id,
                judge_prompt_hash=sha256_text(
                    json.dumps([ps[i], cand.text], ensure_ascii=False, default=str)
                ),
                context=dict(contexts[i] or {}) if contexts is not None else {},
            )
            if failure is None:
                j.score = score
            else:
                j.failure = failure
                self.stats.fail(failure)
            out.append(j)
        self.stats.judgments += len(out)
        return out
