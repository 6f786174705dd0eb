"""A chat causal LM as a sampling policy: batched, seeded, returning only the new text.

Conversations are rendered with the tokenizer's chat template (with the generation prompt), padded on
the left so every row's last token is its prompt's last token, and generated in fixed batches. Each
batch draws from its own seed, derived from the caller's seed and the batch index, inside a forked
RNG, so the same inputs and seed give the same outputs, and the caller's global RNG is untouched.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from typing import Any

from polyrlaif.core.models import load_causal_lm, pick_device, resolve_model_path, set_cpu_threads

__all__ = ["CAUSAL_LM_ADAPTER", "CausalLMAdapter", "CausalLMPolicy", "batch_seed"]


def batch_seed(seed: int, batch_idx: int) -> int:
    """The seed of batch ``batch_idx`` of a ``generate`` call made with ``seed``."""
    return (seed * 1_000_003 + batch_idx) % (2**63 - 1)


class DecodeSteps:
    """A ``generate`` streamer that advances a progress bar by one per decoding step (``generate`` pushes
    the prompt first, then each step's new tokens for the whole batch)."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.steps = bar, -1  # the first push is the prompt

    def put(self, value: Any) -> None:  # noqa: ARG002 - only the count matters
        self.steps += 1
        if self.steps:
            self.bar.update(1)

    def end(self) -> None:
        """Generation finished (the caller settles the bar)."""


class CausalLMPolicy:
    """A Hugging Face causal LM with a chat template, satisfying :class:`~polyrlaif.core.protocols.Policy`.

    Args:
        name_or_path: alias, local directory or hub id (see :func:`polyrlaif.core.models.resolve_model_path`).
        dtype: ``auto`` (float32 on CPU, bfloat16 on CUDA) or a dtype name.
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: where converted aliases live.
        batch_size: conversations per forward batch (each expanded to ``n`` rows when sampling).

    Attributes:
        model_id: the name it was created from.
        model_path: the resolved local directory (or hub id) the trainer starts from.
        stats: running totals: ``sequences``, ``new_tokens`` and generation ``seconds``.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        dtype: str = "auto",
        device: str = "auto",
        cache_dir: str | None = None,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_id = name_or_path
        self.model_path = resolve_model_path(name_or_path, cache_dir)
        self.device = pick_device(device)
        if self.device == "cpu":
            set_cpu_threads()
        self.model, self.tokenizer = self._load(dtype)
        self.tokenizer.padding_side = "left"
        self.batch_size = batch_size
        self.stats: dict[str, float] = {"sequences": 0, "new_tokens": 0, "seconds": 0.0}

    def _load(self, dtype: str) -> tuple[Any, Any]:
        """The model and its tokenizer; a subclass loads a processor instead (vision-language)."""
        model, tokenizer = load_causal_lm(self.model_path, dtype=dtype, device=self.device)
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"{self.model_path}: the tokenizer has no chat template")
        return model, tokenizer

    def _encode(self, conversations: Sequence[Any]) -> dict[str, Any]:
        """Render and left-pad one batch into model inputs on the policy's device."""
        prompts = [self.render(c) for c in conversations]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items()}

    def render(self, conversation: list[dict[str, str]] | str) -> str:
        """The prompt text for one conversation (a bare string is a single user turn)."""
        if isinstance(conversation, str):
            conversation = [{"role": "user", "content": conversation}]
        return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        """Return ``n`` completions for each conversation, in order.

        Args:
            conversations: chat message lists (``{"role", "content"}`` dicts).
            n: completions per conversation.
            temperature: 0 for greedy decoding (then the ``n`` completions are identical), else the
                sampling temperature.
            top_p: nucleus threshold when sampling (no top-k cut).
            max_new_tokens: generation budget per completion.
            seed: base seed; batch ``b`` uses :func:`batch_seed` ``(seed, b)``.

        Returns:
            ``out[i][j]``: the j-th completion of conversation i, without the prompt and special tokens.
        """
        from tqdm.auto import tqdm

        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        convs = list(conversations)
        starts = list(range(0, len(convs), self.batch_size))
        results: list[list[str]] = []
        # the bar counts decoding steps (at most max_new_tokens a batch), so it moves, with an ETA, while a
        # batch decodes; a batch that stops early jumps to its full share
        with tqdm(total=len(starts) * max_new_tokens, desc="generate", unit="tok-step", leave=False) as bar:
            for b, start in enumerate(starts):
                results.extend(
                    self._generate_batch(
                        convs[start : start + self.batch_size],
                        n=n,
                        temperature=temperature,
                        top_p=top_p,
                        max_new_tokens=max_new_tokens,
                        seed=batch_seed(seed, b),
                        streamer=DecodeSteps(bar),
                    )
                )
                bar.update((b + 1) * max_new_tokens - bar.n)
        return results

    def _generate_batch(
        self,
        convs: list[Any],
        *,
        n: int,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seed: int,
        streamer: Any = None,
    ) -> list[list[str]]:
        import torch

        sample = temperature > 0
        enc = self._encode(convs)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": sample,
            # greedy decoding gives n identical rows: decode once and repeat instead
            "num_return_sequences": n if sample else 1,
            "streamer": streamer,
        }
        if sample:
            kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
        cuda_devices = [torch.device(self.device).index or 0] if self.device.startswith("cuda") else []
        t0 = time.perf_counter()
        with torch.inference_mode(), torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            out = self.model.generate(**enc, **kwargs)
        self.stats["seconds"] += time.perf_counter() - t0
        new = out[:, enc["input_ids"].shape[1] :]
        self.stats["sequences"] += new.shape[0]
        self.stats["new_tokens"] += int(self._count_new_tokens(new))
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        per = n if sample else 1
        rows = [texts[i * per : (i + 1) * per] for i in range(len(convs))]
        return rows if sample else [r * n for r in rows]

    def _count_new_tokens(self, new: Any) -> int:
        # generated tokens up to and including the first stop token; the rest is padding
        stop = self.model.generation_config.eos_token_id
        stop_ids = set(stop if isinstance(stop, list) else [stop]) | {self.tokenizer.eos_token_id}
        total = 0
        for row in new.tolist():
            length = len(row)
            for i, tok in enumerate(row):
                if tok in stop_ids:
                    length = i + 1
                    break
            total += length
        return total

    def close(self) -> None:
        """Free the model's memory; the policy cannot generate afterwards."""
        import torch

        self.model = None
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def __enter__(self) -> CausalLMPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CausalLMAdapter:
    """The :class:`~polyrlaif.core.protocols.PolicyAdapter` of text domains: any causal LM with a chat
    template that transformers can load (alias, hub id or local path), as a :class:`CausalLMPolicy`, or
    sampled through an OpenAI-compatible server (``serve``: :class:`~.served_policy.ServedPolicy`)."""

    #: its policies only chat, so a chat-completions server can stand in for them (``model.serve``)
    servable = True

    def load(
        self, model: str, *, serve: str | None = None, serve_timeout_s: float = 900.0, **kwargs: Any
    ) -> Any:
        """Build the policy; ``kwargs`` are :class:`CausalLMPolicy`'s (dtype, device, batch_size, ...).
        With ``serve`` (a server command), a :class:`ServedPolicy` that starts it instead."""
        if serve:
            from polyrlaif.core.served_policy import ServedPolicy

            return ServedPolicy(
                model, serve, start_timeout_s=serve_timeout_s, cache_dir=kwargs.get("cache_dir")
            )
        return CausalLMPolicy(model, **kwargs)


#: The shared instance domains name in their ``Domain.adapter`` (``polyrlaif.core.policy:CAUSAL_LM_ADAPTER``).
CAUSAL_LM_ADAPTER = CausalLMAdapter()
