"""An OpenAI-compatible ``/chat/completions`` judge backend (vLLM, Ollama, llama.cpp's server, OpenAI).

Requests run on a bounded thread pool with retries and backoff; failures come back as values. A judge
whose answer has a shape (a rubric's scores, a pairwise verdict) passes its JSON schema as
``response_format``, sent as :mod:`polyrlaif.core.judges.structured` and ``judge.structured_output``
allow; a server that refuses it is asked plainly for the rest of the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from polyrlaif.core.io import InputError
from polyrlaif.core.judges.backends import Completion, Conversation, YesNo
from polyrlaif.core.judges.next_token import Choices, choices_from_top_logprobs, yes_no_from_top_logprobs
from polyrlaif.core.judges.structured import StructuredSwitch

__all__ = ["OpenAIBackend", "openai_messages"]


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
        structured_output: ``auto``, ``on`` or ``off``: whether a ``response_format`` a judge passes to
            :meth:`complete` is sent (see :mod:`polyrlaif.core.judges.structured`).
        num_frames: a video part of a conversation is sent as this many frames (the middle frame of
            equal segments, :func:`polyrlaif.core.media.sample_frames`), each an image, as GPT-4o-style
            video evaluation sends them; ``None`` fails a conversation that carries a video.
    """

    #: :meth:`yes_no` answers only where the server returns logprobs, so a judge that has the choice asks
    #: an endpoint for a written answer (:func:`~polyrlaif.core.judges.backends.reads_next_token`)
    next_token_probs = False

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
        structured_output: str = "auto",
        num_frames: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.concurrency = max(1, concurrency)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        if num_frames is not None and num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.num_frames = num_frames
        # the frames a video is sent as change the answers: a judge shown 4 is not one shown 8
        self.name = f"openai:{model}@{self.base_url}" + (f":{num_frames}_frames" if num_frames else "")
        self.requests = 0  # HTTP attempts made, retries included
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._client: Any = None
        self.structured = StructuredSwitch(structured_output, f"{model}@{self.base_url}")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings, not the connection pool or locks (a Ray worker opens its own)."""
        state = dict(self.__dict__)
        for live in ("_lock", "_slots", "_client"):
            state.pop(live, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._client = None

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
        self,
        conversations: Sequence[Conversation],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """One chat completion per conversation, ``concurrency`` at a time.

        ``response_format`` (a JSON schema, :func:`~polyrlaif.core.judges.structured.json_schema_format`)
        is sent while :attr:`structured` allows; ``Completion.structured`` says whether it was.
        """

        def one(conv: Conversation) -> Completion:
            try:
                messages = openai_messages(conv, num_frames=self.num_frames)
            except InputError as exc:  # e.g. a missing image: this conversation fails, not the call
                return Completion(None, f"input_error: {exc}")
            payload: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
            }
            structured = response_format is not None and self.structured.requested()
            if structured:
                payload["response_format"] = response_format
            try:
                choice = self._post(payload)
            except _RequestFailed as exc:
                if not structured or not self.structured.is_refusal(exc.reason, exc.detail):
                    return Completion(None, f"{exc.reason}: {exc.detail}")
                if self.structured.mode == "on":
                    return Completion(
                        None,
                        f"structured_output_rejected: {exc.reason}: {exc.detail}; the server refuses "
                        "response_format (judge.structured_output=on): set judge.structured_output=auto "
                        "to fall back to parsing free text, or off",
                    )
                # auto: the same question without the schema; only if that works was the schema the
                # problem (a 400 for an over-long prompt fails again, and is reported as itself)
                del payload["response_format"]
                structured = False
                try:
                    choice = self._post(payload)
                except _RequestFailed as plain:
                    return Completion(None, f"{plain.reason}: {plain.detail}")
                self.structured.refuse(f"{exc.reason}: {exc.detail}")
            text = (choice.get("message") or {}).get("content")
            if not isinstance(text, str):
                return Completion(None, f"bad_response: no message content in {str(choice)[:200]}")
            return Completion(text, structured=structured)

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
            top = self._top_logprobs(conv)
            return YesNo(None, top) if isinstance(top, str) else yes_no_from_top_logprobs(top, yes, no)

        return self._map(one, conversations)

    def choices(self, conversations: Sequence[Conversation], *, words: Sequence[str]) -> list[Choices]:
        """Ask for one token with ``top_logprobs: 20`` and read each word's probability (0 outside the top
        20), normalised over ``words``: one request per conversation whatever the number of words."""

        def one(conv: Conversation) -> Choices:
            top = self._top_logprobs(conv)
            return Choices(None, top) if isinstance(top, str) else choices_from_top_logprobs(top, words)

        return self._map(one, conversations)

    def _top_logprobs(self, conv: Conversation) -> list[dict[str, Any]] | str:
        """The top 20 log-probabilities of the first answer token, or the reason there are none."""
        try:
            messages = openai_messages(conv, num_frames=self.num_frames)
        except InputError as exc:
            return f"input_error: {exc}"
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
            return f"{exc.reason}: {exc.detail}"
        content = ((choice.get("logprobs") or {}).get("content")) or []
        if not content or not isinstance(content[0], dict):
            return "no_logprobs: the server returned no logprobs (does it support them?)"
        return content[0].get("top_logprobs") or [content[0]]


def openai_messages(conv: Conversation, *, num_frames: int | None = None) -> list[dict[str, Any]]:
    """Chat messages in the OpenAI wire format: image parts become base64 ``image_url`` data URIs,
    which vLLM, llama.cpp and Ollama's OpenAI endpoints accept for vision models; a video part becomes
    ``num_frames`` such images, its sampled frames in order (PNG).

    Raises:
        InputError: an image or video that cannot be read, or a video with ``num_frames`` unset.
    """
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
            elif p.get("type") == "video":
                parts += [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{frame}"}}
                    for frame in _video_frames(p["path"], num_frames)
                ]
            else:
                parts.append(p)
        out.append({**m, "content": parts})
    return out


def _video_frames(path: str, num_frames: int | None) -> list[str]:
    """A video's sampled frames as base64 PNGs."""
    import base64
    import io

    from PIL import Image

    from polyrlaif.core.media import sample_frames

    if num_frames is None:
        raise InputError(
            f"conversation video {path}: this endpoint judge was built without num_frames, so it cannot "
            "send a video (a domain that judges videos passes the run's model.num_frames)"
        )
    _, frames = sample_frames(path, num_frames)  # InputError naming the file when it cannot be read
    out = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG")
        out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return out
