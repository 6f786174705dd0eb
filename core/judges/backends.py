"""Judge model backends: a local transformers causal LM, or an OpenAI-compatible HTTP endpoint.

Both answer the same two questions for a batch of chat conversations: "continue this" (:meth:`complete`)
and "how likely is the next token yes rather than no" (:meth:`yes_no`). Failures come back as values
(``error`` set to ``"<reason>: <detail>"``), one per conversation, so a judge can count them by reason.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from polyrlaif.core.io import InputError
from polyrlaif.core.packed_lm import ROW_TOKENS

__all__ = [
    "Completion",
    "YesNo",
    "JudgeBackend",
    "TransformersBackend",
    "OpenAIBackend",
    "build_backend",
    "openai_messages",
    "yes_no_from_top_logprobs",
    "yes_no_token_ids",
]

Conversation = list[dict[str, str]]


@dataclass
class Completion:
    """One generated answer, or the reason there is none."""

    text: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the backend produced text."""
        return self.error is None and self.text is not None


@dataclass
class YesNo:
    """``p_yes = P(yes) / (P(yes) + P(no))`` for the next token; ``mass`` = P(yes) + P(no)."""

    p_yes: float | None
    error: str | None = None
    mass: float | None = None

    @property
    def ok(self) -> bool:
        """True when a probability was read."""
        return self.error is None and self.p_yes is not None


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


def _ratio(p_yes: float, p_no: float) -> YesNo:
    mass = p_yes + p_no
    if not mass > 0.0:
        return YesNo(None, "no_yes_no_mass: neither yes nor no has probability mass", mass=0.0)
    return YesNo(p_yes / mass, mass=mass)


def yes_no_from_top_logprobs(top: Sequence[dict[str, Any]], yes: Sequence[str], no: Sequence[str]) -> YesNo:
    """Fold an OpenAI ``top_logprobs`` list into :class:`YesNo`.

    Tokens are compared after stripping whitespace (``" Yes"`` counts as ``"Yes"``); the
    probabilities of all matching variants are summed.
    """
    p_yes = p_no = 0.0
    yes_set, no_set = set(yes), set(no)
    for entry in top:
        token = str(entry.get("token", "")).strip()
        prob = math.exp(float(entry.get("logprob", -math.inf)))
        if token in yes_set:
            p_yes += prob
        elif token in no_set:
            p_no += prob
    if p_yes == 0.0 and p_no == 0.0:
        seen = [str(e.get("token")) for e in top[:5]]
        return YesNo(None, f"no_yes_no_tokens: none of {sorted(yes_set | no_set)} in top tokens {seen}")
    return _ratio(p_yes, p_no)


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
                return [_ratio(a, b) for a, b in zip(p_yes, p_no, strict=True)]

            for start in range(0, len(conversations), self.batch_size):
                batch = conversations[start : start + self.batch_size]
                out.extend(_isolating(run, batch, lambda err: YesNo(None, err)))
        return out


def _variant_ids(tok: Any, words: Sequence[str]) -> list[int]:
    """Ids of the words, with and without a leading space, that are one token each.

    When no variant is a single token (small vocabularies), the first token of each is used.
    """
    single: set[int] = set()
    first: set[int] = set()
    for word in words:
        for variant in (word, " " + word):
            ids = tok.encode(variant, add_special_tokens=False)
            if len(ids) == 1:
                single.add(ids[0])
            elif ids:
                first.add(ids[0])
    return sorted(single or first)


def yes_no_token_ids(tok: Any, yes: Sequence[str], no: Sequence[str]) -> tuple[list[int], list[int]]:
    """The next-token ids read as "yes" and as "no" (what the yes/no mode compares, and what a yes/no
    trainer fits).

    Raises:
        ValueError: no distinct ids for one of the two.
    """
    yes_ids, no_ids = _variant_ids(tok, yes), _variant_ids(tok, no)
    # a first-token fallback can share pieces (a bare leading space); a shared id says nothing
    shared = set(yes_ids) & set(no_ids)
    yes_ids = [i for i in yes_ids if i not in shared]
    no_ids = [i for i in no_ids if i not in shared]
    if not yes_ids or not no_ids:
        raise ValueError(f"no distinct token ids for yes {list(yes)} / no {list(no)}")
    return yes_ids, no_ids


def _isolating(run: Any, batch: Sequence[Any], fail: Any) -> list[Any]:
    """``run(batch)``; when the batch fails, each conversation alone, so that one bad input (a missing
    image, an over-long prompt) is a failure value of its own and never of its neighbours."""
    try:
        return run(batch)
    except Exception as exc:  # a failure is a value, never a crash of the run
        if len(batch) == 1:
            return [fail(f"model_error: {type(exc).__name__}: {exc}")]
        return [r for conv in batch for r in _isolating(run, [conv], fail)]


class _RequestFailed(Exception):
    def __init__(self, reason: str, detail: str, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retry, self.retry_after = reason, detail, retry, retry_after


class OpenAIBackend:
    """An OpenAI-compatible ``/chat/completions`` endpoint (vLLM, Ollama, llama.cpp server, ...).

    Requests run on a thread pool of ``concurrency`` workers, and a semaphore keeps the bound even
    when several judges share the backend. Connection errors, timeouts, 429 and 5xx are retried
    ``retries`` times with exponential backoff (``Retry-After`` is honoured, capped at
    ``max_backoff_s``); other 4xx answers fail at once.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server expects.
        api_key: sent as a bearer token when given.
        timeout_s: per-request timeout (connect and read).
        retries: extra attempts after the first.
        concurrency: requests in flight at most.
        backoff_s: first backoff; doubled on every retry.
        max_backoff_s: cap on one backoff sleep.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60,
        retries: int = 3,
        concurrency: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.concurrency = max(1, concurrency)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.name = f"openai:{model}@{self.base_url}"
        self.requests = 0  # HTTP attempts made, retries included
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._client: Any = None

    def _http(self) -> Any:
        with self._lock:  # pool threads race here on first use; build exactly one client
            if self._client is None:
                import httpx

                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                limits = httpx.Limits(max_connections=self.concurrency)
                self._client = httpx.Client(timeout=self.timeout_s, headers=headers, limits=limits)
            return self._client

    def close(self) -> None:
        """Close the HTTP connection pool (a later request opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _post_once(self, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        with self._lock:
            self.requests += 1
        try:
            with self._slots:
                resp = self._http().post(f"{self.base_url}/chat/completions", json=payload)
        except httpx.TimeoutException as exc:
            raise _RequestFailed("timeout", f"{type(exc).__name__} after {self.timeout_s}s", True) from None
        except httpx.TransportError as exc:
            raise _RequestFailed(
                "connection", f"{self.base_url}: {type(exc).__name__}: {exc}", True
            ) from None
        if resp.status_code == 429 or resp.status_code >= 500:
            after = resp.headers.get("retry-after")
            wait = float(after) if after and after.replace(".", "", 1).isdigit() else None
            raise _RequestFailed(f"http_{resp.status_code}", resp.text[:200], True, wait)
        if resp.status_code >= 400:
            raise _RequestFailed(f"http_{resp.status_code}", resp.text[:200], False)
        try:
            body = resp.json()
            choice = body["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise _RequestFailed("bad_response", repr(resp.text[:200]), False) from None
        return choice

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with bounded retries; raises :class:`_RequestFailed` with the attempt count."""
        for attempt in range(self.retries + 1):
            try:
                return self._post_once(payload)
            except _RequestFailed as exc:
                if not exc.retry or attempt == self.retries:
                    exc.detail = f"{exc.detail} (after {attempt + 1} attempt(s))"
                    raise
                wait = exc.retry_after if exc.retry_after is not None else self.backoff_s * 2**attempt
                time.sleep(min(wait, self.max_backoff_s))
        raise AssertionError("unreachable")

    def _map(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def complete(
        self, conversations: Sequence[Conversation], *, max_new_tokens: int, temperature: float = 0.0
    ) -> list[Completion]:
        """One chat completion per conversation, ``concurrency`` at a time."""

        def one(conv: Conversation) -> Completion:
            try:
                messages = openai_messages(conv)
            except InputError as exc:  # e.g. a missing image: this conversation fails, not the call
                return Completion(None, f"input_error: {exc}")
            payload = {
                "model": self.model,
                "messages": messages,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
            }
            try:
                choice = self._post(payload)
            except _RequestFailed as exc:
                return Completion(None, f"{exc.reason}: {exc.detail}")
            text = (choice.get("message") or {}).get("content")
            if not isinstance(text, str):
                return Completion(None, f"bad_response: no message content in {str(choice)[:200]}")
            return Completion(text)

        return self._map(one, conversations)

    def yes_no(
        self,
        conversations: Sequence[Conversation],
        *,
        yes: Sequence[str] = ("Yes", "yes"),
        no: Sequence[str] = ("No", "no"),
    ) -> list[YesNo]:
        """Ask for one token with ``top_logprobs: 20`` and compare the yes and no variants."""

        def one(conv: Conversation) -> YesNo:
            try:
                messages = openai_messages(conv)
            except InputError as exc:
                return YesNo(None, f"input_error: {exc}")
            payload = {
                "model": self.model,
                "messages": messages,
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": 20,
            }
            try:
                choice = self._post(payload)
            except _RequestFailed as exc:
                return YesNo(None, f"{exc.reason}: {exc.detail}")
            content = ((choice.get("logprobs") or {}).get("content")) or []
            if not content or not isinstance(content[0], dict):
                return YesNo(None, "no_logprobs: the server returned no logprobs (does it support them?)")
            top = content[0].get("top_logprobs") or [content[0]]
            return yes_no_from_top_logprobs(top, yes, no)

        return self._map(one, conversations)


def openai_messages(conv: Conversation) -> list[dict[str, Any]]:
    """Chat messages in the OpenAI wire format: image parts become base64 ``image_url`` data URIs,
    which vLLM, llama.cpp and Ollama's OpenAI endpoints accept for vision models."""
    import base64
    import mimetypes

    out: list[dict[str, Any]] = []
    for m in conv:
        content = m["content"]
        if isinstance(content, str):
            out.append(m)
            continue
        parts: list[dict[str, Any]] = []
        for p in content:
            if p.get("type") == "image":
                path = p["path"]
                try:
                    data = base64.b64encode(open(path, "rb").read()).decode("ascii")
                except OSError as exc:
                    raise InputError(f"conversation image {path}: {exc}") from None
                mime = mimetypes.guess_type(path)[0] or "image/png"
                parts.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}})
            else:
                parts.append(p)
        out.append({**m, "content": parts})
    return out


def build_backend(cfg: Any) -> JudgeBackend:
    """Build the backend a :class:`polyrlaif.core.config.JudgeConfig` names, via ``JUDGE_BACKENDS``.

    The API key, if any, is read from the environment variable ``cfg.api_key_env``. A backend that
    a domain registered under another name is called with the config itself.
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
        )
    if cfg.backend in ("transformers", "transformers_vlm"):
        return cls(cfg.model, batch_size=cfg.batch_size)
    return cls(cfg)
