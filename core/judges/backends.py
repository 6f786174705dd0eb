"""Judge model backends: a local transformers causal LM, or an OpenAI-compatible HTTP endpoint
(:mod:`polyrlaif.core.judges.openai_backend`).

Both answer the same three questions for a batch of chat conversations: "continue this"
(:meth:`complete`), "how likely is the next token yes rather than no" (:meth:`yes_no`) and "how likely is
each of these words next" (:meth:`choices`; the reading itself is :mod:`polyrlaif.core.judges.next_token`).
Failures come back as values
(``error`` set to ``"<reason>: <detail>"``), one per conversation, so a judge can count them by reason.
The local model's answers are free text, which the judges parse; only the HTTP backend can constrain an
answer to a JSON schema (:mod:`polyrlaif.core.judges.structured`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from polyrlaif.core.judges.next_token import (
    Choices,
    YesNo,
    choice_token_ids,
    choices_from_masses,
    yes_no_from_masses,
    yes_no_from_top_logprobs,
    yes_no_token_ids,
)
from polyrlaif.core.packed_lm import ROW_TOKENS

__all__ = [
    "Choices",
    "Completion",
    "YesNo",
    "JudgeBackend",
    "TransformersBackend",
    "build_backend",
    "reads_next_token",
    "yes_no_from_top_logprobs",
    "yes_no_token_ids",
]

Conversation = list[dict[str, str]]


@dataclass
class Completion:
    """One generated answer, or the reason there is none. ``structured``: the request asked for a JSON
    schema (``response_format``) and the server took it."""

    text: str | None
    error: str | None = None
    structured: bool = False

    @property
    def ok(self) -> bool:
        """True when the backend produced text."""
        return self.error is None and self.text is not None


@runtime_checkable
class JudgeBackend(Protocol):
    """What judge modes need from a model."""

    name: str

    def complete(
        self, conversations: Sequence[Conversation], *, max_new_tokens: int, temperature: float = 0.0
    ) -> list[Completion]:
        """One completion per conversation, in order."""
        ...

    def yes_no(
        self, conversations: Sequence[Conversation], *, yes: Sequence[str] = ..., no: Sequence[str] = ...
    ) -> list[YesNo]:
        """One yes/no probability per conversation, in order."""
        ...

    def choices(self, conversations: Sequence[Conversation], *, words: Sequence[str]) -> list[Choices]:
        """The next token's probability of each of ``words`` (normalised over them) per conversation."""
        ...


def reads_next_token(backend: object) -> bool:
    """True when ``backend`` computes next-token probabilities itself (a local model, whose
    :meth:`~JudgeBackend.yes_no` always answers), so a judge can read a yes/no verdict from p(yes) rather
    than parse generated text. An HTTP endpoint answers ``yes_no`` only if its server returns logprobs,
    and says false."""
    return bool(getattr(backend, "next_token_probs", False))


class TransformersBackend:
    """A local causal LM, loaded on first use through :func:`polyrlaif.core.models.load_causal_lm`.

    Args:
        model: hub id, local path, or a name the model loader knows.
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"`` ...
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` ...
        batch_size: conversations per forward pass / ``generate`` call.
        cache_dir: where the loader keeps downloaded weights.
        row_tokens: longest packed row of a yes/no pass (see :meth:`yes_no`).
    """

    #: yes/no passes are packed from the token ids of the text (a backend whose inputs are more than
    #: text, such as images, sets this false and is padded)
    packs = True
    #: :meth:`yes_no` reads the model's own next-token distribution: always there, nothing to parse
    #: (see :func:`reads_next_token`)
    next_token_probs = True

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int = 8,
        cache_dir: str | None = None,
        row_tokens: int = ROW_TOKENS,
    ) -> None:
        self.model_name = model
        self.dtype = dtype
        self.device = device
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.row_tokens = row_tokens
        self.name = f"transformers:{model}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()  # one forward pass at a time; the model is not re-entrant

    def __getstate__(self) -> dict[str, Any]:
        """Pickle everything but the lock (a Ray worker gets its own); a model not yet loaded is loaded
        by whoever unpickles it, from ``model_name``."""
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @classmethod
    def from_loaded(
        cls, model: Any, tokenizer: Any, *, name: str, batch_size: int = 8
    ) -> TransformersBackend:
        """Wrap a model that is already in memory (e.g. the policy judging itself)."""
        backend = cls(name, batch_size=batch_size)
        backend._model, backend._tokenizer = model.eval(), tokenizer
        return backend

    def _ensure_loaded(self) -> tuple[Any, Any]:
        if self._model is None:
            from polyrlaif.core.models import load_causal_lm

            model, tok = load_causal_lm(
                self.model_name, dtype=self.dtype, device=self.device, cache_dir=self.cache_dir
            )
            self._model, self._tokenizer = model.eval(), tok
        return self._model, self._tokenizer

    def _texts(self, conversations: Sequence[Conversation]) -> list[str]:
        """Each conversation chat-templated with the generation prompt (a transcript for base models)."""
        tok = self._tokenizer
        if getattr(tok, "chat_template", None):
            return [
                tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations
            ]
        # base models: a plain transcript ending where the assistant speaks
        return ["".join(f"{m['role']}: {m['content']}\n" for m in c) + "assistant:" for c in conversations]

    def _encode(self, conversations: Sequence[Conversation]) -> Any:
        """Chat-template each conversation with the generation prompt; left-pad into one batch."""
        model, tok = self._model, self._tokenizer
        texts = self._texts(conversations)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        # left padding, so every row ends at its last prompt token; restored, as the tokenizer may be
        # shared with a policy that trains with right padding
        side, tok.padding_side = tok.padding_side, "left"
        try:
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            tok.padding_side = side
        return enc.to(model.device)

    def _last_logits(self, conversations: Sequence[Conversation]) -> Any:
        """Next-token logits after each chat-templated conversation, ``(len(conversations), vocab)``.

        Conversations that start alike (one task, several responses) are packed without padding, each
        shared beginning computed once (:mod:`polyrlaif.core.packed_lm`). Attention kernels that take
        no dense mask, and backends that do not pack (``packs`` false), get one left-padded batch.
        """
        import torch

        from polyrlaif.core.packed_lm import (
            body_states,
            group_by_prefix,
            head_logits,
            pack_prefix_groups,
            takes_dense_mask,
        )

        model, tok = self._model, self._tokenizer
        seqs = tok(self._texts(conversations), add_special_tokens=False)["input_ids"] if self.packs else []
        with torch.no_grad():
            if not seqs or not takes_dense_mask(model.config, max(len(s) for s in seqs)):
                enc = self._encode(conversations)
                # left padding: positions count real tokens only, as in generate()
                pos = (enc["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)
                return model(**enc, position_ids=pos, logits_to_keep=1).logits[:, -1, :].float()
            groups = group_by_prefix(seqs, max_tokens=self.row_tokens)
            packed = pack_prefix_groups(
                [(prefix, [b for _, b in branches]) for prefix, branches in groups],
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else 0,
                row_tokens=self.row_tokens,
            )
            last = [0] * len(seqs)
            for g, (_, branches) in enumerate(groups):
                for k, (i, branch) in enumerate(branches):
                    last[i] = packed.last(g, k, len(branch))
            states = body_states(model, packed)
            return head_logits(model, states[torch.tensor(last, device=states.device)]).float()

    def complete(
        self, conversations: Sequence[Conversation], *, max_new_tokens: int, temperature: float = 0.0
    ) -> list[Completion]:
        """Generate greedily (``temperature == 0``) or by sampling; errors are per batch."""
        import torch

        out: list[Completion] = []
        with self._lock:
            model, tok = self._ensure_loaded()
            sampling: dict[str, Any] = {"do_sample": False}
            if temperature > 0:
                sampling = {"do_sample": True, "temperature": temperature}

            def run(batch: Sequence[Conversation]) -> list[Completion]:
                enc = self._encode(batch)
                with torch.no_grad():
                    gen = model.generate(
                        **enc, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id, **sampling
                    )
                new = gen[:, enc["input_ids"].shape[1] :]
                return [Completion(t) for t in tok.batch_decode(new, skip_special_tokens=True)]

            for start in range(0, len(conversations), self.batch_size):
                batch = conversations[start : start + self.batch_size]
                out.extend(_isolating(run, batch, lambda err: Completion(None, err)))
        return out

    def yes_no(
        self,
        conversations: Sequence[Conversation],
        *,
        yes: Sequence[str] = ("Yes", "yes"),
        no: Sequence[str] = ("No", "no"),
    ) -> list[YesNo]:
        """Read the next-token distribution after the chat-templated prompt and compare yes with no.

        Each batch of ``batch_size`` conversations is one forward pass, packed without padding, with
        the beginnings that consecutive conversations share computed once (:meth:`_last_logits`).
        """
        import torch

        out: list[YesNo] = []
        with self._lock:
            self._ensure_loaded()
            try:
                yes_ids, no_ids = yes_no_token_ids(self._tokenizer, yes, no)
            except ValueError as exc:
                return [YesNo(None, f"bad_yes_no_tokens: {exc}") for _ in conversations]

            def run(batch: Sequence[Conversation]) -> list[YesNo]:
                probs = torch.softmax(self._last_logits(batch), dim=-1)
                p_yes = probs[:, yes_ids].sum(-1).tolist()
                p_no = probs[:, no_ids].sum(-1).tolist()
                return [yes_no_from_masses(a, b) for a, b in zip(p_yes, p_no, strict=True)]

            for start in range(0, len(conversations), self.batch_size):
                batch = conversations[start : start + self.batch_size]
                out.extend(_isolating(run, batch, lambda err: YesNo(None, err)))
        return out

    def choices(self, conversations: Sequence[Conversation], *, words: Sequence[str]) -> list[Choices]:
        """Read the next-token distribution once per conversation and fold it over ``words`` (each with
        and without a leading space): one forward pass per batch, as :meth:`yes_no`."""
        import torch

        out: list[Choices] = []
        with self._lock:
            self._ensure_loaded()
            try:
                ids = choice_token_ids(self._tokenizer, [[w] for w in words], names=list(words))
            except ValueError as exc:
                return [Choices(None, f"bad_choice_tokens: {exc}") for _ in conversations]

            def run(batch: Sequence[Conversation]) -> list[Choices]:
                probs = torch.softmax(self._last_logits(batch), dim=-1)
                masses = torch.stack([probs[:, i].sum(-1) for i in ids], dim=1).tolist()
                return [choices_from_masses(dict(zip(words, row, strict=True))) for row in masses]

            for start in range(0, len(conversations), self.batch_size):
                batch = conversations[start : start + self.batch_size]
                out.extend(_isolating(run, batch, lambda err: Choices(None, err)))
        return out

    def continuation_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, int] | str]:
        """``(sum of log-probs, tokens)`` of each continuation after its context (plain text, no chat
        template: the model reads ``context + continuation``), or an error string; batched, no grad."""
        import torch

        out: list[tuple[float, int] | str] = []
        with self._lock:
            model, tok = self._ensure_loaded()

            def run(batch: Sequence[tuple[str, str]]) -> list[tuple[float, int] | str]:
                rows = []
                for context, continuation in batch:
                    ctx = tok(context, add_special_tokens=False)["input_ids"] or [tok.eos_token_id]
                    rows.append((ctx, tok(continuation, add_special_tokens=False)["input_ids"]))
                width = max(len(c) + len(x) for c, x in rows)
                pad = tok.pad_token_id if tok.pad_token_id is not None else 0
                ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for i, (c, x) in enumerate(rows):
                    ids[i, : len(c) + len(x)] = torch.tensor(c + x)
                    mask[i, : len(c) + len(x)] = 1
                dev = model.device
                with torch.no_grad():
                    logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits[:, :-1].float()
                logp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None].to(logits.device))[..., 0]
                res: list[tuple[float, int] | str] = []
                for i, (c, x) in enumerate(rows):
                    res.append((float(logp[i, len(c) - 1 : len(c) + len(x) - 1].sum()), len(x)))
                return res

            for start in range(0, len(pairs), self.batch_size):
                batch = pairs[start : start + self.batch_size]
                out.extend(_isolating(run, batch, lambda err: err))
        return out


def _isolating(run: Any, batch: Sequence[Any], fail: Any) -> list[Any]:
    """``run(batch)``; when the batch fails, each conversation alone, so that one bad input (a missing
    image, an over-long prompt) is a failure value of its own and never of its neighbours."""
    try:
        return run(batch)
    except Exception as exc:  # a failure is a value, never a crash of the run
        if len(batch) == 1:
            return [fail(f"model_error: {type(exc).__name__}: {exc}")]
        return [r for conv in batch for r in _isolating(run, [conv], fail)]


def build_backend(cfg: Any, *, num_frames: int | None = None) -> JudgeBackend:
    """Build the backend a :class:`polyrlaif.core.config.JudgeConfig` names, via ``JUDGE_BACKENDS``.

    The API key, if any, is read from the environment variable ``cfg.api_key_env``. A backend that
    a domain registered under another name is called with the config itself. ``num_frames``: how many
    frames a vision backend (``openai``, ``transformers_vlm``) reads a video as; a domain that judges
    videos passes the run's ``model.num_frames``.
    """
    from polyrlaif.core.registry import JUDGE_BACKENDS

    cls = JUDGE_BACKENDS.get(cfg.backend)
    if cfg.backend == "openai":
        key = os.environ.get(cfg.api_key_env) if getattr(cfg, "api_key_env", None) else None
        return cls(
            cfg.base_url,
            cfg.model,
            api_key=key,
            timeout_s=cfg.timeout_s,
            retries=cfg.retries,
            concurrency=cfg.concurrency,
            structured_output=getattr(cfg, "structured_output", "auto"),
            num_frames=num_frames,
        )
    if cfg.backend == "transformers_vlm":
        return cls(cfg.model, batch_size=cfg.batch_size, num_frames=num_frames)
    if cfg.backend == "transformers":
        return cls(cfg.model, batch_size=cfg.batch_size)
    if cfg.backend == "sentence_transformers":  # an encoder (the similarity judge), not a generator
        return cls(cfg.model)
    return cls(cfg)
