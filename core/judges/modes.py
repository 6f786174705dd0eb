"""What every judge mode shares: prompt rendering, context injection, caching, stats, progress bars.

A mode (pointwise, pairwise, yes/no) renders one judge prompt per question from its template,
asks the backend through :meth:`BaseJudge._ask` (which consults the cache first), and turns the raw
answers into :class:`~polyrlaif.core.records.Judgment` s. The exact rendered text is hashed
(:func:`~polyrlaif.core.io.sha256_text`): that hash is ``Judgment.judge_prompt_hash`` and, for a plain
request, the cache key, so a cached answer is only ever replayed for the very same prompt. A request for a
structured answer (a JSON schema as ``response_format``) is keyed apart (:func:`request_key`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import string
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.structured import json_schema_format, request_key, wants_structured
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "Answer",
    "BaseJudge",
    "CompositeJudge",
    "JudgeStats",
    "ParsingStats",
    "image_digest",
    "judge_prompt_key",
    "prompt_media",
    "render_context",
    "snippet",
    "template_fields",
]


@dataclass
class JudgeStats:
    """Counters every judge keeps. Failures are counted by reason (the text before the first ``:``).

    Attributes:
        judgments: judgments returned.
        calls: backend requests made (one per uncached judge prompt).
        cache_hits: judge prompts answered from the cache.
        failures: reason -> count.
    """

    judgments: int = 0
    calls: int = 0
    cache_hits: int = 0
    failures: Counter = field(default_factory=Counter)

    def reset(self) -> None:
        """Zero every counter (the run reports each round's own numbers)."""
        import dataclasses

        for f in dataclasses.fields(self):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(self, f.name, default)

    def fail(self, failure: str) -> None:
        """Count one failure under its reason."""
        self.failures[failure.split(":", 1)[0].strip()] += 1

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form for metrics files."""
        out = {k: v for k, v in self.__dict__.items() if k != "failures"}
        out["failures"] = dict(self.failures)
        return out


@dataclass
class ParsingStats(JudgeStats):
    """:class:`JudgeStats` of a judge that reads free text or JSON out of its model's answers.

    Attributes:
        answers: answers the model gave (fresh or from the cache) that the judge tried to read.
        unparseable: of those, the ones no score or verdict could be read from.
    """

    answers: int = 0
    unparseable: int = 0

    def parsed(self, ok: bool) -> None:
        """Count one answer read, and whether a score or verdict was found in it."""
        self.answers += 1
        self.unparseable += not ok

    @property
    def unparseable_rate(self) -> float:
        """``unparseable / answers`` (0.0 before any answer)."""
        return self.unparseable / self.answers if self.answers else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Counters plus ``unparseable_rate``."""
        return {**super().as_dict(), "unparseable_rate": self.unparseable_rate}


@dataclass
class Answer:
    """A backend's answer to one judge prompt: the raw JSON, or the reason there is none."""

    prompt_hash: str
    raw: dict[str, Any] | None
    error: str | None = None
    cached: bool = False


def snippet(text: str | None, limit: int = 120) -> str:
    """A one-line excerpt of ``text`` for failure messages."""
    if not text or not text.strip():
        return "(empty answer)"
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return str(value)


def render_context(context: Mapping[str, Any] | None) -> str:
    """Render a domain's context dict readably: ``key: value`` lines, multi-line values indented.

    Underscores in keys become spaces (``test_results`` -> ``test results``); nested dicts and lists
    are shown as indented JSON. An empty context renders as ``(none)``.
    """
    if not context:
        return "(none)"
    lines = []
    for key, value in context.items():
        label = str(key).replace("_", " ")
        text = _render_value(value)
        if "\n" in text:
            lines.append(f"{label}:\n{textwrap.indent(text, '  ')}")
        else:
            lines.append(f"{label}: {text}")
    return "\n".join(lines)


def template_fields(template: str) -> set[str]:
    """The ``{names}`` a format template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@functools.lru_cache(maxsize=65536)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def image_digest(path: str) -> str:
    """SHA-256 of an image file's bytes (memoised per path, modification time and size)."""
    try:
        st = os.stat(path)
    except OSError:
        return f"missing:{path}"  # the backend then reports the missing file as the failure
    return _file_digest(path, st.st_mtime_ns, st.st_size)


def prompt_media(prompt: PromptRecord) -> list[str]:
    """The image and video files of ``prompt`` a multimodal judge is shown, in order."""
    return [m.uri for m in prompt.media if m.kind in ("image", "video")]


def judge_prompt_key(text: str, images: Sequence[str] = ()) -> str:
    """The cache key and ``judge_prompt_hash`` of a judge prompt: its text, plus the contents of the
    images it is shown with (text-only prompts hash exactly as before)."""
    if not images:
        return sha256_text(text)
    return sha256_text(text + "\n" + "\n".join(f"image:{image_digest(p)}" for p in images))


#: File suffixes a judge prompt's media are sent as video parts rather than images.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def _conversation(text: str, images: Sequence[str]) -> list[dict[str, Any]]:
    if not images:
        return [{"role": "user", "content": text}]
    parts: list[dict[str, Any]] = [
        {"type": "video" if str(p).lower().endswith(VIDEO_SUFFIXES) else "image", "path": p} for p in images
    ]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": text}]}]


class BaseJudge:
    """Shared machinery of the judge modes; subclasses set ``mode``, ``kind`` and the template slots.

    Args:
        backend: a :class:`~polyrlaif.core.judges.backends.JudgeBackend`.
        template: ``str.format`` template for the judge prompt (the mode's default when ``None``).
        cache: optional :class:`JudgeCache`.
        batch_size: judge prompts per backend call (one progress-bar step each).
        progress: show a tqdm bar.
    """

    mode: ClassVar[str] = "base"
    kind: ClassVar[str] = "base"
    default_template: ClassVar[str] = ""
    required_fields: ClassVar[frozenset[str]] = frozenset()
    allowed_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        template: str | None = None,
        cache: JudgeCache | None = None,
        batch_size: int = 32,
        progress: bool = True,
    ) -> None:
        self.backend = backend
        self.template = template if template is not None else self.default_template
        fields = template_fields(self.template)
        missing = self.required_fields - fields
        unknown = fields - self.allowed_fields
        if missing or unknown:
            raise ValueError(
                f"{type(self).__name__} template: missing slot(s) {sorted(missing)}, unknown slot(s) "
                f"{sorted(unknown)}; allowed: {sorted(self.allowed_fields)}"
            )
        self.cache = cache
        self.batch_size = max(1, batch_size)
        self.progress = progress
        self.stats = self._new_stats()

    def _new_stats(self) -> JudgeStats:
        return JudgeStats()

    def _spec(self) -> dict[str, Any]:
        """Settings that change the judge's answers; hashed into ``judge_id`` with the template."""
        return {}

    def _judgment(self, cand: Candidate, context: dict[str, Any], text: str, answer: Answer) -> Judgment:
        """This judge's empty judgment of ``cand`` asked with the judge prompt ``text``; ``answer`` gives
        its key (the text's hash, with the contents of any media it was shown) and whether it came from the
        cache. The mode fills in the score or the failure."""
        return Judgment(
            candidate_id=cand.candidate_id,
            judge_id=self.judge_id,
            kind=self.kind,
            prompt_id=cand.prompt_id,
            judge_prompt_hash=answer.prompt_hash,
            context=context,
            cached=answer.cached,
        )

    @property
    def judge_id(self) -> str:
        """``<mode>:<backend name>:<12 hex of template + settings>``; stable across runs."""
        spec = json.dumps({"template": self.template, **self._spec()}, sort_keys=True, default=str)
        return f"{self.mode}:{self.backend.name}:{sha256_text(spec)[:12]}"

    def _ask(
        self,
        texts: Sequence[str],
        call: Callable[[list[list[dict[str, Any]]]], list[dict[str, Any] | str]],
        images: Sequence[Sequence[str]] | None = None,
        *,
        response_format: dict[str, Any] | None = None,
    ) -> list[Answer]:
        """Answer each rendered judge prompt from the cache or the backend, in order.

        ``call`` maps a batch of conversations to raw answers (a dict) or error strings. Identical
        prompts are asked once. Successful answers are cached batch by batch, so an interrupted run
        keeps what it paid for. ``images[i]`` are image files the judge sees with prompt i (a
        multimodal judge); their contents are hashed into the key, so a changed image is asked anew.
        ``response_format``: the JSON schema the requests ask for; it is part of the cache key, and an
        answer the server gave without it (``raw["structured"]`` false: it refused the schema) is stored
        under the plain request's key.
        """
        from tqdm.auto import tqdm

        judge_id = self.judge_id
        hashes = [judge_prompt_key(t, images[i] if images else ()) for i, t in enumerate(texts)]
        keys = [request_key(h, response_format) for h in hashes]
        unique = dict(zip(keys, range(len(texts)), strict=False))
        done: dict[str, Answer] = {}
        if self.cache is not None:
            for k, raw in self.cache.get_many(judge_id, unique).items():
                done[k] = Answer(hashes[unique[k]], raw, cached=True)
        self.stats.cache_hits += len(done)
        todo = [h for h in unique if h not in done]
        off = not self.progress or not todo
        with tqdm(total=len(todo), desc=f"judge[{self.mode}]", unit="prompt", disable=off) as bar:
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                convs = [_conversation(texts[unique[h]], images[unique[h]] if images else ()) for h in chunk]
                results = call(convs)
                self.stats.calls += len(chunk)
                fresh = {}
                for k, res in zip(chunk, results, strict=True):
                    h = hashes[unique[k]]
                    if isinstance(res, str):
                        done[k] = Answer(h, None, error=res)
                    else:
                        done[k] = Answer(h, res)
                        fresh[request_key(h, response_format if res.get("structured") else None)] = res
                if self.cache is not None and fresh:
                    self.cache.put_many(judge_id, fresh)
                bar.update(len(chunk))
        return [done[k] for k in keys]

    def _ask_complete(
        self,
        texts: Sequence[str],
        *,
        max_new_tokens: int,
        temperature: float,
        schema: tuple[str, dict[str, Any]] | None = None,
        system: str | None = None,
        images: Sequence[Sequence[str]] | None = None,
    ) -> list[Answer]:
        """Free-text answers; with ``schema`` (a name and a JSON schema of the answer), asked for as
        structured output where the backend takes it (:func:`wants_structured`). ``system``: a system turn
        before each prompt (a judge that has one puts it in :meth:`_spec`, so it is part of ``judge_id``).
        ``images[i]``: image or video files shown with prompt i (hashed into its key, as in :meth:`_ask`)."""
        fmt = json_schema_format(*schema) if schema is not None and wants_structured(self.backend) else None
        extra: dict[str, Any] = {"response_format": fmt} if fmt is not None else {}
        head = [{"role": "system", "content": system}] if system is not None else []

        def call(convs: list[list[dict[str, str]]]) -> list[dict[str, Any] | str]:
            outs = self.backend.complete(
                [[*head, *c] for c in convs], max_new_tokens=max_new_tokens, temperature=temperature, **extra
            )
            return [
                ({"text": o.text, "structured": o.structured} if fmt is not None else {"text": o.text})
                if o.ok
                else (o.error or "backend_error: no text")
                for o in outs
            ]

        return self._ask(texts, call, images, response_format=fmt)

    def _ask_yes_no(
        self,
        texts: Sequence[str],
        *,
        yes: Sequence[str],
        no: Sequence[str],
        images: Sequence[Sequence[str]] | None = None,
    ) -> list[Answer]:
        def call(convs: list[list[dict[str, Any]]]) -> list[dict[str, Any] | str]:
            outs = self.backend.yes_no(convs, yes=yes, no=no)
            return [
                {"p_yes": o.p_yes, "mass": o.mass} if o.ok else (o.error or "backend_error: no probability")
                for o in outs
            ]

        return self._ask(texts, call, images)

    @staticmethod
    def _contexts(n: int, contexts: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
        if contexts is None:
            return [{} for _ in range(n)]
        if len(contexts) != n:
            raise ValueError(f"got {len(contexts)} contexts for {n} candidates")
        return [dict(c or {}) for c in contexts]


class CompositeJudge:
    """A judge made of other judges (an ensemble, an active pair, a guard): its ``cache`` is theirs, read
    as a list and set to one value or a list, so repeated ranking and the audit switch every inner cache
    off and back at once. A subclass lists its judges in ``parts()``."""

    def parts(self) -> list[Any]:
        """The judges this one asks."""
        raise NotImplementedError

    @property
    def cache(self) -> Any:
        """The inner judges' caches, in ``parts()`` order."""
        return [getattr(j, "cache", None) for j in self.parts()]

    @cache.setter
    def cache(self, value: Any) -> None:
        parts = self.parts()
        for j, c in zip(parts, value if isinstance(value, list) else [value] * len(parts), strict=True):
            if hasattr(j, "cache"):
                j.cache = c
