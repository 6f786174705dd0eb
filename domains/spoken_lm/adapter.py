"""Policy building and log-probs for the `spoken_lm` domain: a unit language model over speech units.

The policy is any causal LM whose tokenizer reads unit text (``"<u12> <u5> ..."``, see
:mod:`.units`), by hub id or local path, as TWIST is a Llama over HuBERT units. Such a model has no
roles, so its tokenizer gets :data:`CONTINUATION_TEMPLATE`: a chat template that renders a
conversation as the bare continuation text (BOS, then each message's content and a space). The core's
:class:`~polyrlaif.core.policy.CausalLMPolicy` then continues a spoken prompt, and DPO (the core's
fast backend and TRL's, which split prompt and completion where the tokenised prompt and
prompt + completion stop agreeing) trains on unit pairs unchanged.

:func:`build_tiny_unit_lm` writes a tiny Llama with a word-level tokenizer over the unit tokens, for
tests and synthetic worlds. :func:`score_utterances` gives each unit string's log-likelihood, several
utterances packed per row, as the zero-resource benchmarks (sWUGGY, sBLIMP, spoken StoryCloze)
compare them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core.io import atomic_dir
from polyrlaif.core.models import load_causal_lm
from polyrlaif.core.packed_lm import takes_dense_mask, unwrap_lm
from polyrlaif.core.policy import CausalLMPolicy
from polyrlaif.core.token_logps import token_logps

if TYPE_CHECKING:
    import torch

__all__ = [
    "ADAPTER",
    "CONTINUATION_TEMPLATE",
    "DOCUMENT_SDPA",
    "SPECIAL_TOKENS",
    "SpokenLMAdapter",
    "UnitLMPolicy",
    "build_tiny_unit_lm",
    "score_utterances",
]

#: The attention implementation packed scoring runs with: ``sdpa`` within each utterance of a row.
DOCUMENT_SDPA = "polyrlaif_unit_document_sdpa"

#: The tiny unit LM's special tokens, in id order (pad 0, unk 1, bos 2, eos 3).
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")

# BOS, then each message's content and a space: no roles, nothing for the generation prompt. A prompt
# therefore tokenises to a prefix of prompt + completion, which is how DPO finds the completion.
CONTINUATION_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['content'] is string %}{{ message['content'] }} "
    "{% else %}{% for part in message['content'] %}{{ part['text'] }} {% endfor %}{% endif %}"
    "{% endfor %}"
)


# The same, with the end-of-sequence token after each assistant message: a model trained on (units, words)
# conversations in it learns to stop after the words (the transcriber); the prompt still renders as a prefix.
TRANSCRIBER_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['content'] is string %}{{ message['content'] }} "
    "{% else %}{% for part in message['content'] %}{{ part['text'] }} {% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)


def build_tiny_unit_lm(
    out_dir: str | os.PathLike,
    unit_tokens: Sequence[str],
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    max_positions: int = 1024,
    chat_template: str = CONTINUATION_TEMPLATE,
) -> Path:
    """Write a randomly initialised tiny ``LlamaForCausalLM`` over unit tokens, with its tokenizer.

    The tokenizer is word-level over :data:`SPECIAL_TOKENS` then ``unit_tokens`` (ids in that order),
    splits on whitespace, adds ``<s>`` in front when called with special tokens (as Llama's does), and
    carries :data:`CONTINUATION_TEMPLATE`. The directory loads with ``AutoModelForCausalLM`` and
    ``AutoTokenizer``.

    Args:
        out_dir: target directory, written atomically.
        unit_tokens: the unit vocabulary (e.g. :meth:`.units.UnitTokenizer.tokens`).
        seed: initialisation seed.
        hidden: hidden size (the MLP is four times wider).
        layers: decoder layers.
        heads: attention heads.
        max_positions: the model's and tokenizer's maximum length.
        chat_template: the tokenizer's chat template (:data:`TRANSCRIBER_TEMPLATE` for a model that must
            learn to stop after its reply).

    Returns:
        ``out_dir``.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tok = _unit_tokenizer(unit_tokens, max_positions, chat_template)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    with atomic_dir(out_dir) as staging:
        model.save_pretrained(staging)
        tok.save_pretrained(staging)
    return Path(out_dir)


def _unit_tokenizer(
    unit_tokens: Sequence[str], max_positions: int, template: str = CONTINUATION_TEMPLATE
) -> Any:
    """A word-level tokenizer over the special tokens and ``unit_tokens``, split on whitespace only (so
    ``<u12>`` stays one token), ``<s>`` in front as Llama's tokenizer does."""
    from polyrlaif.core.tiny import word_tokenizer

    return word_tokenizer(
        unit_tokens,
        specials=SPECIAL_TOKENS,
        natural=False,
        wrap="<s> $A",
        chat_template=template,
        model_max_length=max_positions,
        clean_up_tokenization_spaces=False,
    )


class UnitLMPolicy(CausalLMPolicy):
    """:class:`~polyrlaif.core.policy.CausalLMPolicy` for a unit LM: a tokenizer without a chat
    template gets :data:`CONTINUATION_TEMPLATE`, so conversations render as bare unit text."""

    def _load(self, dtype: str) -> tuple[Any, Any]:
        model, tokenizer = load_causal_lm(self.model_path, dtype=dtype, device=self.device)
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = CONTINUATION_TEMPLATE
        return model, tokenizer

    def score(self, texts: Sequence[str], *, packed: bool = True) -> list[tuple[float, float]]:
        """:func:`score_utterances` of ``texts`` under this policy's model, ``batch_size`` at a time."""
        return score_utterances(self.model, self.tokenizer, texts, batch_size=self.batch_size, packed=packed)


class SpokenLMAdapter:
    """The domain's :class:`~polyrlaif.core.protocols.PolicyAdapter`: any causal unit LM as a
    :class:`UnitLMPolicy`."""

    def load(self, model: str, **kwargs: Any) -> UnitLMPolicy:
        """Build the policy for ``model`` (hub id or local path); ``kwargs`` are ``dtype``, ``device``,
        ``cache_dir`` and ``batch_size``, as :class:`~polyrlaif.core.policy.CausalLMPolicy` takes them."""
        return UnitLMPolicy(model, **kwargs)


#: The instance the domain names in its ``Domain.adapter``.
ADAPTER = SpokenLMAdapter()


def _utterance_ids(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Each text's token ids, after the BOS token when the tokenizer has one."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []
    bos = tokenizer.bos_token_id
    return [([bos] if bos is not None else []) + list(row) for row in ids]


def score_utterances(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 16,
    packed: bool = True,
) -> list[tuple[float, float]]:
    """Log-likelihood of each unit string under a causal LM: the sum over its tokens and the mean.

    Each text is tokenised without special tokens and scored after the BOS token (every token is
    predicted from BOS and the tokens before it). A tokenizer without BOS has its first token
    unscored. An empty text scores ``(0.0, 0.0)``.

    Utterances go through the model ``batch_size`` at a time, shortest first. With ``packed``, a
    batch is laid end to end in one row, positions restarting at each utterance, and attention is
    block-diagonal: causal within each utterance (:data:`DOCUMENT_SDPA`), so no token is padding and
    the scores are those of each utterance run alone. The utterance bounds go to the attention kernel
    directly: the core's dense-mask packing (:func:`polyrlaif.core.packed_lm.pack_prefix_groups` and
    ``body_states``) gives the same scores, but building its mask and finding its blocks again in
    every layer took a third of the time on 50-300 unit utterances (CPU, tiny LM). Models whose
    attention is neither ``sdpa`` nor ``eager``, has a sliding window shorter than an utterance, a
    soft cap or sinks, or does not go through transformers' attention interface get padded batches,
    as ``packed=False`` does. Sums accumulate in float32: they agree with a one-at-a-time loop to
    about 1e-6 relative (a few 1e-4 absolute on 300 units), the means to about 1e-6.

    Args:
        model: a ``transformers`` causal LM (or a peft model wrapping one); run without gradients.
        tokenizer: its tokenizer.
        texts: unit strings, e.g. ``"<u12> <u5> <u40>"``.
        batch_size: utterances per forward pass.
        packed: pack each batch without padding.

    Returns:
        ``(sum, mean)`` log-probability per text, in order.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lm = unwrap_lm(model)
    seqs = _utterance_ids(tokenizer, texts)
    # shortest first: padded batches waste less, packed rows fill evenly
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    scores: list[tuple[float, float]] = [(0.0, 0.0)] * len(seqs)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = [seqs[i] for i in idx]
            if max(len(s) for s in batch) < 2:
                continue  # nothing after BOS to score
            sums = None
            if packed and _packable(lm, max(len(s) for s in batch)):
                sums = _packed_sums(lm, batch)
            if sums is None:
                sums = _padded_sums(lm, batch, tokenizer.pad_token_id or 0)
            for i, total in zip(idx, sums.tolist(), strict=True):
                n = len(seqs[i]) - 1
                scores[i] = (total, total / n) if n > 0 else (0.0, 0.0)
    return scores


def _packable(lm: Any, longest: int) -> bool:
    """Whether :func:`_document_attention` gives the model's own attention for these utterances."""
    return takes_dense_mask(lm.config, longest) and getattr(lm, "_can_set_attn_implementation", bool)()


class _NotDocumentAttention(Exception):
    """The model's attention has a feature :func:`_document_attention` does not reproduce."""


#: Per forward pass: the utterance bounds in the packed row, and how many attention calls used them.
_DOCUMENTS: ContextVar[dict[str, Any] | None] = ContextVar("unit_lm_documents", default=None)


def _document_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Any,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """``sdpa`` causal attention within each utterance of one packed row (registered as
    :data:`DOCUMENT_SDPA`); no mask is built, so attention costs the sum of the squared lengths."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    docs = _DOCUMENTS.get()
    if docs is None or query.shape[0] != 1 or attention_mask is not None:
        raise _NotDocumentAttention("called outside a packed unit-LM forward pass")
    if kwargs.get("softcap") is not None or kwargs.get("s_aux") is not None:
        raise _NotDocumentAttention("attention soft cap or sinks")
    kwargs.pop("is_causal", None)
    docs["calls"] += 1
    bounds = docs["bounds"]
    parts = [
        sdpa_attention_forward(
            module, query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], None, is_causal=True, **kwargs
        )[0]
        for s, e in zip(bounds[:-1], bounds[1:], strict=True)
        if e > s
    ]
    return torch.cat(parts, 1), None


@functools.cache
def _register_document_attention() -> None:
    # registered as an attention kernel only: with no mask function, transformers builds no mask
    from transformers import AttentionInterface

    AttentionInterface.register(DOCUMENT_SDPA, _document_attention)


@contextmanager
def _attention(lm: Any, name: str) -> Iterator[None]:
    before = lm.config._attn_implementation
    try:
        lm.set_attn_implementation(name)
    except (ValueError, NotImplementedError) as exc:  # a model that refuses other kernels
        raise _NotDocumentAttention(str(exc)) from exc
    try:
        yield
    finally:
        lm.set_attn_implementation(before)


def _packed_sums(lm: Any, batch: list[list[int]]) -> torch.Tensor | None:
    """Summed log-probs of tokens 1.. of each sequence, the batch laid end to end in one row.

    Positions restart at each sequence and attention stays within it (:func:`_document_attention`).
    Returns ``None`` when the model's attention cannot run that way (the caller pads instead).
    """
    import torch

    device = lm.get_output_embeddings().weight.device
    bounds = [0]
    for seq in batch:
        bounds.append(bounds[-1] + len(seq))
    ids = torch.tensor([t for seq in batch for t in seq], dtype=torch.long, device=device)
    positions = torch.cat([torch.arange(len(seq)) for seq in batch]).to(device)
    docs = {"bounds": bounds, "calls": 0}
    _register_document_attention()
    token = _DOCUMENTS.set(docs)
    try:
        with _attention(lm, DOCUMENT_SDPA):
            states = lm.base_model(input_ids=ids[None], position_ids=positions[None], use_cache=False)
    except _NotDocumentAttention:
        return None
    finally:
        _DOCUMENTS.reset(token)
    if docs["calls"] == 0:  # the model does not route attention through the interface
        return None
    # the state at t predicts token t + 1 of the same sequence
    predictors: list[int] = []
    targets: list[int] = []
    rows: list[int] = []
    for g, (start, seq) in enumerate(zip(bounds[:-1], batch, strict=True)):
        predictors += range(start, start + len(seq) - 1)
        targets += seq[1:]
        rows += [g] * (len(seq) - 1)
    index = torch.tensor(predictors, dtype=torch.long, device=device)
    flat = token_logps(
        lm, states.last_hidden_state[0][index], torch.tensor(targets, device=device), chunk_size=4096
    ).float()
    return flat.new_zeros(len(batch)).index_add(0, torch.tensor(rows, dtype=torch.long, device=device), flat)


def _padded_sums(lm: Any, batch: list[list[int]], pad_token_id: int) -> torch.Tensor:
    """Summed log-probs of tokens 1.. of each sequence, the batch right-padded."""
    import torch

    device = lm.get_output_embeddings().weight.device
    width = max(len(s) for s in batch)
    ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, s in enumerate(batch):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    ids, mask = ids.to(device), mask.to(device)
    hidden = lm.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    scored = mask[:, 1:].bool()  # the state at t predicts token t + 1
    flat = token_logps(lm, hidden[:, :-1][scored], ids[:, 1:][scored], chunk_size=4096).float()
    return flat.new_zeros(len(batch)).index_add(0, scored.nonzero()[:, 0], flat)
