"""Pointwise rubric judging: the judge scores each criterion on a scale, then gives a rationale.

The judge answers lines like ``correctness: 7``; parsing tolerates markdown (``**Correctness**: 7/10``),
bullets, case and underscores. An endpoint with structured output is asked for a JSON object instead
(:meth:`Rubric.json_schema`: each criterion an integer on the scale, then ``rationale``), which is read
first; free text stays the fallback. ``Judgment.score`` is the mean of the criteria normalised to [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, ParsingStats, prompt_media, render_context, snippet
from polyrlaif.core.judges.structured import read_json_fields
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["Rubric", "PointwiseJudge", "parse_rubric_answer", "RubricParse", "POINTWISE_TEMPLATE"]

POINTWISE_TEMPLATE = """\
You are a strict, fair grader. Grade the response to the task below against the rubric.

<task>
{prompt}
</task>

<response>
{response}
</response>

<context>
{context}
</context>

Rubric "{rubric_name}". Score each criterion with a whole number
from {scale_min} (worst) to {scale_max} (best):
{criteria}

Answer with exactly one line per criterion, in the form `criterion: score`, using these names:
{criteria_names}
Then one line `rationale: <one sentence>`."""

_NUM = r"([-+]?\d+(?:\.\d+)?)"


def _norm(text: str) -> str:
    """Lowercase, drop markdown emphasis and code marks, underscores to spaces, squeeze blanks."""
    text = re.sub(r"[*`#]", "", text.lower()).replace("_", " ")
    return re.sub(r"[ \t]+", " ", text)


@dataclass(frozen=True)
class Rubric:
    """Criteria scored on a shared integer scale.

    Args:
        name: shown to the judge and hashed into ``judge_id``.
        criteria: ``(name, description)`` pairs; names must be unique and free of ``:``.
        scale_min: worst score.
        scale_max: best score.
    """

    name: str
    criteria: tuple[tuple[str, str], ...]
    scale_min: int = 1
    scale_max: int = 10

    def __post_init__(self) -> None:
        crit = tuple((str(n), str(d)) for n, d in self.criteria)
        object.__setattr__(self, "criteria", crit)
        names = [_norm(n).strip() for n, _ in crit]
        if not crit:
            raise ValueError(f"rubric {self.name!r}: no criteria")
        if len(set(names)) != len(names) or any(not n or ":" in n or "\n" in n for n in names):
            raise ValueError(f"rubric {self.name!r}: criterion names must be unique, non-empty, without ':'")
        if not self.scale_min < self.scale_max:
            lo, hi = self.scale_min, self.scale_max
            raise ValueError(f"rubric {self.name!r}: scale_min {lo} is not below scale_max {hi}")

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Rubric:
        """From YAML/JSON: ``{name, criteria, scale_min, scale_max}``.

        ``criteria`` is a ``{name: description}`` mapping or a list of ``[name, description]`` pairs.
        """
        crit = row["criteria"]
        items = list(crit.items()) if isinstance(crit, Mapping) else [tuple(c) for c in crit]
        return cls(row["name"], tuple(items), int(row.get("scale_min", 1)), int(row.get("scale_max", 10)))

    @property
    def names(self) -> list[str]:
        """Criterion names, in order."""
        return [n for n, _ in self.criteria]

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of an answer: every criterion a whole number on the scale, then a one-line
        ``rationale`` (last, so a cut-short answer still has its scores)."""
        score = {"type": "integer", "minimum": self.scale_min, "maximum": self.scale_max}
        props: dict[str, Any] = {n: dict(score) for n in self.names}
        props.setdefault("rationale", {"type": "string"})
        return {
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }


@dataclass
class RubricParse:
    """What :func:`parse_rubric_answer` found."""

    scores: dict[str, float]
    missing: list[str]
    out_of_range: list[str]
    rationale: str


def _number(value: Any) -> float | None:
    """A score from a JSON value: a number, or a string such as ``"7"`` or ``"7/10"``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = re.match(rf"\s*{_NUM}", value) if isinstance(value, str) else None
    return float(m.group(1)) if m else None


def _parse_json(text: str, rubric: Rubric) -> RubricParse | None:
    """The rubric's scores from a JSON answer (:meth:`Rubric.json_schema`); ``None`` when the answer
    holds no JSON object with any criterion in it."""
    obj = read_json_fields(text)
    if not obj:
        return None
    fields = {_norm(str(k)).strip(): v for k, v in obj.items()}
    scores: dict[str, float] = {}
    for name in rubric.names:
        keys = [_norm(name).strip(), *(["score", "rating"] if len(rubric.names) == 1 else [])]
        found = [_number(fields[k]) for k in keys if k in fields]
        if found and found[0] is not None:
            scores[name] = found[0]
    if not scores:
        return None
    missing = [n for n in rubric.names if n not in scores]
    bad = [f"{n}={v:g}" for n, v in scores.items() if not rubric.scale_min <= v <= rubric.scale_max]
    return RubricParse(scores, missing, bad, str(fields.get("rationale", "")).strip()[:2000])


def parse_rubric_answer(text: str, rubric: Rubric) -> RubricParse:
    """Find ``criterion: score`` for every criterion of ``rubric`` in a judge's answer.

    A JSON object (a structured answer, :meth:`Rubric.json_schema`) is read first, its keys compared as
    the criterion names are. Otherwise, free text: ``name: 7``, ``name = 7``, ``name - 7``,
    ``name: 7/10``, ``**Name**: 7`` and ``- name: 7``; the first match of each criterion wins. A
    one-criterion rubric also accepts ``score: 7``.
    """
    parsed = _parse_json(text or "", rubric)
    if parsed is not None:
        return parsed
    clean = _norm(text or "")
    scores: dict[str, float] = {}
    for name in rubric.names:
        keys = [re.escape(_norm(name).strip())]
        if len(rubric.names) == 1:
            keys += ["score", "rating"]
        pat = rf"(?:^|[\s(\[,;])(?:{'|'.join(keys)})\s*(?:score)?\s*[:=\-–]\s*{_NUM}"
        m = re.search(pat, clean, flags=re.MULTILINE)
        if m:
            scores[name] = float(m.group(1))
    missing = [n for n in rubric.names if n not in scores]
    bad = [f"{n}={v:g}" for n, v in scores.items() if not rubric.scale_min <= v <= rubric.scale_max]
    m = re.search(r"rationale\s*[:\-]\s*(.*)", text or "", flags=re.IGNORECASE | re.DOTALL)
    rationale = m.group(1).strip() if m else (text or "").strip()
    return RubricParse(scores, missing, bad, rationale[:2000])


class PointwiseJudge(BaseJudge):
    """Scores each candidate against a :class:`Rubric`.

    ``Judgment.score`` is the mean over criteria of ``(s - scale_min) / (scale_max - scale_min)``;
    ``Judgment.scores`` holds the raw per-criterion scores. An answer missing a criterion fails with
    ``unparseable: ...``, one with a score off the scale with ``out_of_range: ...``; backend errors
    keep the backend's reason (``timeout``, ``connection``, ``http_500`` ...). ``stats`` counts the
    answers read and the unparseable ones (:class:`~polyrlaif.core.judges.modes.ParsingStats`).

    An OpenAI-compatible backend is asked for the rubric's JSON schema as structured output where
    ``judge.structured_output`` and the server allow; a local model answers free text.

    Template slots: ``{prompt}``, ``{response}``, ``{context}``, ``{rubric_name}``, ``{criteria}``,
    ``{criteria_names}``, ``{scale_min}``, ``{scale_max}``.

    Args:
        backend: the judge model.
        rubric: the criteria.
        template: judge prompt template (default :data:`POINTWISE_TEMPLATE`).
        cache: optional answer cache.
        max_new_tokens: the judge's answer budget.
        temperature: 0 for greedy judging.
        batch_size: prompts per backend call.
        progress: show a progress bar.
        show_media: a multimodal judge also sees each prompt's images and videos (hashed into the key).
    """

    mode = "pointwise"
    kind = "pointwise"
    default_template = POINTWISE_TEMPLATE
    stats: ParsingStats
    required_fields = frozenset({"response"})
    allowed_fields = frozenset(
        {"prompt", "response", "context", "rubric_name", "criteria", "criteria_names"}
        | {"scale_min", "scale_max"}
    )

    def __init__(
        self,
        backend: JudgeBackend,
        rubric: Rubric,
        *,
        template: str | None = None,
        cache: JudgeCache | None = None,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        batch_size: int = 32,
        progress: bool = True,
        show_media: bool = False,
    ) -> None:
        self.rubric = rubric
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.show_media = show_media
        super().__init__(backend, template=template, cache=cache, batch_size=batch_size, progress=progress)

    def _new_stats(self) -> ParsingStats:
        return ParsingStats()

    @property
    def judge_id(self) -> str:
        """``pointwise[<rubric name>]:<backend>:<hash>``."""
        return super().judge_id.replace("pointwise:", f"pointwise[{self.rubric.name}]:", 1)

    def _spec(self) -> dict[str, Any]:
        r = self.rubric
        return {
            "rubric": [r.name, r.criteria, r.scale_min, r.scale_max],
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            **({"show_media": True} if self.show_media else {}),  # unset keeps earlier judges' ids
        }

    def render(self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None) -> str:
        """The exact judge prompt for one candidate."""
        r = self.rubric
        return self.template.format(
            prompt=prompt.text,
            response=candidate.text,
            context=render_context(context),
            rubric_name=r.name,
            criteria="\n".join(f"- {n}: {d}" for n, d in r.criteria),
            criteria_names=", ".join(r.names),
            scale_min=r.scale_min,
            scale_max=r.scale_max,
        )

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order."""
        ctxs = self._contexts(len(candidates), contexts)
        texts = [self.render(prompts[c.prompt_id], c, x) for c, x in zip(candidates, ctxs, strict=True)]
        media = [prompt_media(prompts[c.prompt_id]) for c in candidates] if self.show_media else []
        answers = self._ask_complete(
            texts,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            schema=("rubric_scores", self.rubric.json_schema()),
            images=media if any(media) else None,
        )
        out = []
        span = self.rubric.scale_max - self.rubric.scale_min
        for cand, ctx, text, ans in zip(candidates, ctxs, texts, answers, strict=True):
            j = self._judgment(cand, ctx, text, ans)
            if ans.raw is None:
                j.failure = ans.error
            else:
                raw = ans.raw.get("text") or ""
                parsed = parse_rubric_answer(raw, self.rubric)
                self.stats.parsed(not parsed.missing)
                j.scores, j.rationale = dict(parsed.scores), parsed.rationale
                if parsed.missing:
                    j.failure = f"unparseable: no score for {', '.join(parsed.missing)} in {snippet(raw)}"
                elif parsed.out_of_range:
                    lo, hi = self.rubric.scale_min, self.rubric.scale_max
                    j.failure = f"out_of_range: {', '.join(parsed.out_of_range)} not in [{lo}, {hi}]"
                else:
                    norm = [(parsed.scores[n] - self.rubric.scale_min) / span for n in self.rubric.names]
                    j.score = sum(norm) / len(norm)
            if j.failure:
                self.stats.fail(j.failure)
            out.append(j)
        self.stats.judgments += len(out)
        return out
