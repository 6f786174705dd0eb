"""Judging and answering for the video_lmm benchmarks: Video-ChatGPT's judge through the core judge layer.

:class:`VideoChatGPTJudge` asks one :class:`~polyrlaif.domains.video_lmm.prompts.JudgePrompt` (system and
user turn, greedy), caches the answers and reads Video-ChatGPT's ``{'pred': 'yes', 'score': 4}`` from them
(:func:`parse_judge_reply`). An OpenAI-compatible endpoint is sent that dict's JSON schema as structured
output (:meth:`JudgePrompt.json_schema <polyrlaif.domains.video_lmm.prompts.JudgePrompt.json_schema>`)
where ``judge_structured_output`` and the server allow (:mod:`polyrlaif.core.judges.structured`: a
server that refuses it is asked plainly, and its free text parsed). A reply without a usable score is a
failure with its reason, counted in the judge's ``stats`` with the unparseable answers and summed by
:func:`judge_counts`. :class:`JudgeOptions` are the judge fields every video benchmark takes;
:func:`answer_videos` asks a policy each question on its video (resumable).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from polyrlaif.core.io import InputError, StageWriter
from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, ParsingStats, snippet
from polyrlaif.core.judges.structured import STRUCTURED_MODES
from polyrlaif.core.protocols import EvalRequest, Policy
from polyrlaif.domains.video_lmm.prompts import JudgePrompt
from polyrlaif.domains.video_lmm.qa_files import video_conversation

__all__ = [
    "JudgeOptions",
    "JudgeReply",
    "VideoChatGPTJudge",
    "answer_videos",
    "build_judges",
    "check_request",
    "judge_counts",
    "parse_judge_reply",
]

JudgeBackendName = Literal["none", "openai", "transformers"]


@dataclass(frozen=True)
class JudgeReply:
    """A judge's verdict: ``pred`` (yes/no, where asked) and the 0-5 ``score``, or why there is none."""

    pred: bool | None
    score: int | None
    failure: str | None = None


def _literal(text: str) -> Any:
    for load in (ast.literal_eval, json.loads):
        try:
            return load(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _found(text: str) -> dict[str, Any]:
    """``pred`` and ``score`` from the first dict literal that has a score, else from ``key: value``."""
    for m in re.finditer(r"\{[^{}]*\}", text):
        obj = _literal(m.group(0))
        if isinstance(obj, dict):
            low = {str(k).strip().lower(): v for k, v in obj.items()}
            if "score" in low:
                return low
    out: dict[str, Any] = {}
    if m := re.search(r"""['"]?\bscore['"]?\s*[:=]\s*['"]?(-?\d+(?:\.\d+)?)""", text, re.IGNORECASE):
        out["score"] = m.group(1)
    if m := re.search(r"""['"]?\bpred['"]?\s*[:=]\s*['"]?\s*([A-Za-z]+)""", text, re.IGNORECASE):
        out["pred"] = m.group(1)
    return out


def parse_judge_reply(text: str | None, *, with_pred: bool) -> JudgeReply:
    """Read Video-ChatGPT's ``{'pred': 'yes', 'score': 4}`` from a judge's answer; never raises.

    The dict may be a Python or JSON literal, sit in a code fence or among other words, or be cut short
    (then ``'score': 4`` is read from the text). As Video-ChatGPT reads them: ``pred`` is yes when it
    contains "yes", else no when it contains "no"; the score is ``int(score)`` (4.8 counts 4).

    Returns:
        The reply; ``failure`` (``"unparseable: ..."`` or ``"out_of_range: ..."``) when there is no
        usable score, or no yes/no where ``with_pred``.
    """
    if not text or not text.strip():
        return JudgeReply(None, None, "unparseable: (empty answer)")
    found = _found(text)
    raw = found.get("score")
    if raw is None:
        return JudgeReply(None, None, f"unparseable: no score in {snippet(text)}")
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        return JudgeReply(None, None, f"unparseable: score {raw!r} is not a number")
    if not 0 <= value <= 5:
        return JudgeReply(None, None, f"out_of_range: score {value:g} not in [0, 5]")
    pred = None
    if with_pred:
        word = found.get("pred")
        word = ("yes" if word else "no") if isinstance(word, bool) else str(word or "").lower()
        pred = True if "yes" in word else False if "no" in word else None
        if pred is None:
            return JudgeReply(None, None, f"unparseable: no yes/no pred in {snippet(text)}")
    return JudgeReply(pred, int(value))


class VideoChatGPTJudge(BaseJudge):
    """A core judge mode for one :class:`JudgePrompt`: system plus user turn, answers cached per
    ``(judge_id, prompt)``, asked for as the prompt's JSON schema where the backend takes structured
    output, parsed by :func:`parse_judge_reply`; failures counted by reason in ``stats``
    (:class:`~polyrlaif.core.judges.ParsingStats`: also the answers read and the unparseable ones).

    Args:
        backend: the judge model.
        prompt: which Video-ChatGPT prompt.
        cache: optional answer cache.
        max_new_tokens: room for the dict.
        batch_size: prompts per backend call.
    """

    mode = "video_chatgpt"
    kind = "pointwise"
    stats: ParsingStats
    required_fields = frozenset({"answer"})
    allowed_fields = frozenset(
        {"question", "answer", "prediction", "question1", "question2", "prediction1", "prediction2"}
    )

    def __init__(
        self,
        backend: JudgeBackend,
        prompt: JudgePrompt,
        *,
        cache: JudgeCache | None = None,
        max_new_tokens: int = 64,
        batch_size: int = 32,
    ) -> None:
        self.prompt, self.max_new_tokens = prompt, max_new_tokens
        super().__init__(backend, template=prompt.user, cache=cache, batch_size=batch_size, progress=False)

    def _new_stats(self) -> ParsingStats:
        return ParsingStats()

    def _spec(self) -> dict[str, Any]:
        return {"system": self.prompt.system, "max_new_tokens": self.max_new_tokens}

    @property
    def judge_id(self) -> str:
        """``video_chatgpt[<prompt name>]:<backend>:<hash of the prompts and settings>``."""
        return super().judge_id.replace("video_chatgpt:", f"video_chatgpt[{self.prompt.name}]:", 1)

    def grade(self, rows: Sequence[Mapping[str, str]]) -> list[JudgeReply]:
        """One reply per row of template fields, in order (greedy judging)."""
        answers = self._ask_complete(
            [self.template.format(**r) for r in rows],
            max_new_tokens=self.max_new_tokens,
            temperature=0.0,
            schema=(f"video_chatgpt_{self.prompt.name}", self.prompt.json_schema()),
            system=self.prompt.system,
        )
        replies = []
        for ans in answers:
            if ans.raw is None:
                reply = JudgeReply(None, None, ans.error or "backend_error: no text")
            else:
                reply = parse_judge_reply(ans.raw.get("text"), with_pred=self.prompt.with_pred)
                self.stats.parsed(not (reply.failure or "").startswith("unparseable"))
            if reply.failure:
                self.stats.fail(reply.failure)
            replies.append(reply)
        self.stats.judgments += len(replies)
        return replies


@dataclass
class JudgeOptions:
    """The judge fields every video benchmark takes (``--opt judge_backend=openai`` ...).

    Attributes:
        judge_backend: ``none`` (no judge), ``openai`` or ``transformers``.
        judge_model: the judge model (the server's name for it, or a path for ``transformers``); the
            default is the model Video-ChatGPT's scripts call.
        judge_base_url: the OpenAI-compatible endpoint (its API key, if any, from ``OPENAI_API_KEY``).
        judge_cache: judge cache file (default ``<output_dir>/judge_cache.sqlite``).
        judge_max_new_tokens: room for the judge's dict.
        judge_structured_output: ``auto``, ``on`` or ``off``, as ``judge.structured_output``: whether an
            ``openai`` judge is sent the reply's JSON schema as ``response_format`` (``auto``: unless the
            server refuses it; ``on``: a refusal is a failure; ``off``: never).
    """

    judge_backend: JudgeBackendName = "none"
    judge_model: str = "gpt-3.5-turbo"
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    judge_cache: str | None = None
    judge_max_new_tokens: int = 64
    judge_structured_output: str = "auto"

    def __post_init__(self) -> None:
        if self.judge_backend not in get_args(JudgeBackendName):
            valid = ", ".join(get_args(JudgeBackendName))
            raise ValueError(f"judge_backend must be one of {valid}, got {self.judge_backend!r}")
        if self.judge_structured_output not in STRUCTURED_MODES:
            valid = ", ".join(STRUCTURED_MODES)
            raise ValueError(
                f"judge_structured_output must be one of {valid}, got {self.judge_structured_output!r}"
            )


def build_judges(
    opts: JudgeOptions, prompts: Sequence[JudgePrompt], output_dir: Path
) -> list[VideoChatGPTJudge] | None:
    """One judge per prompt on the one backend ``opts`` names, sharing one cache; ``None`` for
    ``judge_backend=none``. Nothing loads and nothing is sent until a judge is asked."""
    if opts.judge_backend == "none":
        return None
    from polyrlaif.core.config import JudgeConfig
    from polyrlaif.core.judges.backends import build_backend

    cfg = JudgeConfig(
        backend=opts.judge_backend,
        model=opts.judge_model,
        base_url=opts.judge_base_url,
        structured_output=opts.judge_structured_output,
    )
    backend = build_backend(cfg)
    cache = JudgeCache(opts.judge_cache or output_dir / "judge_cache.sqlite")
    return [
        VideoChatGPTJudge(backend, p, cache=cache, max_new_tokens=opts.judge_max_new_tokens) for p in prompts
    ]


def judge_counts(judges: Sequence[VideoChatGPTJudge | None]) -> dict[str, float]:
    """``judge_failures`` and ``judge_failures/<reason>``, the answers read (``judge_answers``), the
    unparseable ones (``judge_unparseable``) and their share (``judge_unparseable_rate``), summed over
    the judges."""
    out: dict[str, float] = {"judge_failures": 0.0, "judge_answers": 0.0, "judge_unparseable": 0.0}
    for j in filter(None, judges):
        out["judge_answers"] += j.stats.answers
        out["judge_unparseable"] += j.stats.unparseable
        for reason, n in sorted(j.stats.failures.items()):
            out["judge_failures"] += n
            out[f"judge_failures/{reason}"] = out.get(f"judge_failures/{reason}", 0.0) + n
    answers = out["judge_answers"]
    out["judge_unparseable_rate"] = out["judge_unparseable"] / answers if answers else 0.0
    return out


def check_request(
    bench: str, policy: Policy | None, opts: Any, request: EvalRequest, *, samples: bool = False
) -> None:
    """Refuse a run that cannot be one: both or neither of a policy and predictions, several samples
    (allowed with ``samples`` when a policy answers: it then answers each question that many times).

    Raises:
        ValueError: naming what to give instead.
    """
    if opts.predictions and policy is not None:
        raise ValueError(f"{bench}: give a model or predictions, not both")
    if not opts.predictions and policy is None:
        raise ValueError(f"{bench} needs --predictions P.jsonl, or --model M --videos DIR --annotations Q")
    if request.samples != 1 and not (samples and policy is not None):
        where = "a prediction file holds" if samples else f"{bench} reads"
        raise ValueError(f"{bench}: {where} one answer per question; got samples={request.samples}")


def answer_videos(
    policy: Policy,
    asks: Sequence[tuple[str, Path, str]],
    out_path: Path,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int = 0,
    batch_size: int = 8,
    n: int = 1,
) -> dict[str, list[str]]:
    """Ask ``policy`` each ``(key, video file, question)`` ``n`` times, in :func:`video_conversation`
    form; resumable through ``out_path`` (a :class:`~polyrlaif.core.io.StageWriter`). Returns each key's
    ``n`` answers.

    Raises:
        InputError: ``out_path`` holds answers made with other decoding settings.
    """
    settings: dict[str, Any] = {"policy": policy.model_id, "temperature": temperature,
                                "max_new_tokens": max_new_tokens}  # fmt: skip
    if n != 1:
        settings["samples"] = n
    # the frames a video is read as change the answers (files written before they were recorded lack them)
    legacy = dict(settings)
    settings["num_frames"] = getattr(policy, "num_frames", None)
    stage = StageWriter(out_path, key="key")
    if stage.done and not {a[0] for a in asks} <= stage.finished_keys:
        stage.path.replace(stage.partial)  # questions a finished run skipped (a video since fixed): reopen
        stage = StageWriter(out_path, key="key")
    for row in stage.rows():
        if row.get("settings") not in (settings, legacy):
            raise InputError(
                f"{out_path}: answers made with {row.get('settings')}, not {settings}; use another --output"
            )
        break
    if not stage.done:
        from tqdm.auto import tqdm

        todo = [a for a in asks if a[0] not in stage.finished_keys]
        bar = tqdm(total=len(asks), initial=len(asks) - len(todo), desc="answer", unit="question")
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            outs = policy.generate(
                [video_conversation(path, q) for _, path, q in chunk],
                n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed + start,
            )  # fmt: skip
            stage.append(
                [
                    {
                        "key": k,
                        "answer": o[0].strip(),
                        "settings": settings,
                        **({"answers": [a.strip() for a in o]} if n != 1 else {}),
                    }
                    for (k, _, _), o in zip(chunk, outs, strict=True)
                ]  # fmt: skip
            )
            bar.update(len(chunk))
        bar.close()
        stage.finish(order=[a[0] for a in asks])
    return {r["key"]: r.get("answers", [r["answer"]]) for r in stage.rows()}
