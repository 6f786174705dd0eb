"""Reward callables and judges, each usable as the other.

TRL settled on the reward-function interface ``fn(prompts, completions, **columns) -> list[float | None]``
(dataset columns arrive as keyword lists). :class:`RewardFnJudge` runs such a function as a judge for
offline pair mining; :func:`judge_as_reward_fn` turns any judge into such a function for online RL,
where repeated prompts (a GRPO group) become one prompt, so a pairwise judge ranks within the group;
:func:`row_reward` turns a per-sample reward ``fn(row) -> float | None`` into such a function.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.modes import JudgeStats
from polyrlaif.core.protocols import Judge, RewardFn
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["RewardFnJudge", "as_judge", "judge_as_reward_fn", "row_reward"]

#: Keyword arguments TRL adds that are not dataset columns.
_TRL_EXTRAS = frozenset(
    {"trainer_state", "completion_ids", "log_extra", "log_metric", "prompt_ids", "environments"}
)


def _per_sample(columns: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The dataset columns among TRL's reward keywords: one value per completion, TRL's extras left out."""
    return {
        k: v
        for k, v in columns.items()
        if k not in _TRL_EXTRAS and isinstance(v, (list, tuple)) and len(v) == n
    }


def _accepted(fn: Callable[..., Any], names: Sequence[str]) -> list[str]:
    """The keyword names ``fn`` can take (all of them if it has ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return list(names)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return list(names)
    ok = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return [n for n in names if n in ok]


class RewardFnJudge:
    """A TRL-style reward function as a :class:`~polyrlaif.core.protocols.Judge`.

    Columns are the keys of the prompts' ``meta`` (one list per key, ``None`` where a prompt lacks
    it), plus ``context`` when contexts are given; only those the function accepts are passed.
    A ``None``, NaN or non-numeric reward, a wrong-length result, or an exception becomes a failure.

    Args:
        fn: ``(prompts, completions, **columns) -> list[float | None]``.
        name: ``judge_id``; defaults to ``reward:<function name>``.
        conversational: pass chat messages (``prompt.messages``, ``[{"role": "assistant", ...}]``)
            instead of plain strings.
    """

    kind = "reward"

    def __init__(self, fn: RewardFn, name: str | None = None, *, conversational: bool = False) -> None:
        self.fn = fn
        self.judge_id = name or f"reward:{getattr(fn, '__name__', type(fn).__name__)}"
        self.conversational = conversational
        self.stats = JudgeStats()

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """Call ``fn`` once on all candidates; one judgment per candidate, in order."""
        recs = [prompts[c.prompt_id] for c in candidates]
        if self.conversational:
            ps: list[Any] = [r.messages or [{"role": "user", "content": r.text}] for r in recs]
            cs: list[Any] = [[{"role": "assistant", "content": c.text}] for c in candidates]
        else:
            ps, cs = [r.text for r in recs], [c.text for c in candidates]
        keys = list(dict.fromkeys(k for r in recs for k in r.meta if k not in ("prompts", "completions")))
        columns: dict[str, list[Any]] = {k: [r.meta.get(k) for r in recs] for k in keys}
        if contexts is not None:
            columns["context"] = [dict(c or {}) for c in contexts]
        columns = {k: columns[k] for k in _accepted(self.fn, list(columns))}

        self.stats.calls += 1
        error: str | None = None
        values: list[Any] = []
        try:
            values = list(self.fn(ps, cs, **columns))
            if len(values) != len(candidates):
                error = f"reward_error: returned {len(values)} values for {len(candidates)} completions"
        except Exception as exc:  # the callable's failure is a value for each candidate
            error = f"reward_error: {type(exc).__name__}: {exc}"
        out = []
        for i, (cand, p, c) in enumerate(zip(candidates, ps, cs, strict=True)):
            j = Judgment(
                candidate_id=cand.candidate_id,
                judge_id=self.judge_id,
                kind=self.kind,
                prompt_id=cand.prompt_id,
                judge_prompt_hash=sha256_text(json.dumps([p, c], ensure_ascii=False, default=str)),
                context=dict(contexts[i] or {}) if contexts is not None else {},
            )
            j.failure = error or self._check(values[i])
            if j.failure:
                self.stats.fail(j.failure)
            else:
                j.score = float(values[i])
            out.append(j)
        self.stats.judgments += len(out)
        return out

    @staticmethod
    def _check(value: Any) -> str | None:
        if value is None:
            return "reward_none: the reward function returned None"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy / torch scalars
            except (TypeError, ValueError):
                return f"reward_error: non-numeric reward {value!r}"
        if math.isnan(float(value)):
            return "reward_nan: the reward function returned NaN"
        return None


def as_judge(obj: Judge | RewardFn) -> Judge:
    """Return ``obj`` if it is a judge (has ``judge_id`` and ``judge``), else wrap a reward callable.

    Raises:
        TypeError: when ``obj`` is neither.
    """
    if isinstance(getattr(obj, "judge_id", None), str) and callable(getattr(obj, "judge", None)):
        return obj  # type: ignore[return-value]
    if callable(obj):
        return RewardFnJudge(obj)
    raise TypeError(f"expected a Judge or a reward callable, got {type(obj).__name__}")


def _text(x: Any, role: str) -> str:
    """Plain text of a TRL prompt or completion (for completions, the last assistant turn)."""
    if isinstance(x, str):
        return x
    msgs = list(x)
    if role == "assistant":
        turns = [m for m in msgs if m.get("role") == "assistant"] or msgs
        return str(turns[-1].get("content", "")) if turns else ""
    if len(msgs) == 1:
        return str(msgs[0].get("content", ""))
    return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in msgs)


def judge_as_reward_fn(judge: Judge, *, context_keys: Sequence[str] = ()) -> RewardFn:
    """A TRL-style reward function backed by ``judge``; failures come back as ``None``.

    Identical prompts share one prompt id (a GRPO group), per-sample columns become the prompt's
    ``meta``, and ``context_keys`` name the columns shown to the judge as context.
    """

    def reward_fn(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        cols = _per_sample(columns, len(completions))
        records: dict[str, PromptRecord] = {}
        cands, ctxs = [], []
        for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
            pid = sha256_text(json.dumps(p, sort_keys=True, ensure_ascii=False, default=str))[:16]
            meta = {k: v[i] for k, v in cols.items()}
            if pid not in records:
                msgs = None if isinstance(p, str) else list(p)
                records[pid] = PromptRecord(prompt_id=pid, text=_text(p, "user"), messages=msgs, meta=meta)
            cands.append(Candidate(candidate_id=f"{pid}/{i}", prompt_id=pid, text=_text(c, "assistant")))
            ctxs.append({k: meta[k] for k in context_keys if k in meta})
        judgments = judge.judge(records, cands, ctxs)
        return [j.score if j.failure is None else None for j in judgments]

    reward_fn.__name__ = re.sub(r"\W+", "_", judge.judge_id).strip("_")
    reward_fn.judge = judge  # type: ignore[attr-defined]
    return reward_fn


def row_reward(fn: Callable[[dict[str, Any]], float | None], name: str, *, stats: Any = None) -> RewardFn:
    """A per-sample reward behind TRL's reward signature ``(prompts, completions, **columns)``.

    ``fn`` is called once per completion, in order, with that completion's row: its value of every
    dataset column, plus ``prompt`` and ``completion``. TRL's keywords that are not dataset columns
    (``trainer_state``, ``completion_ids``, ``log_metric``, ...) are left out. ``fn`` returns the
    reward, or ``None`` when it does not apply; an exception it raises propagates.

    Args:
        fn: ``fn(row) -> float | None``.
        name: the returned callable's ``__name__`` (TRL logs the reward under it).
        stats: counters to expose as the callable's ``stats`` (e.g. a judge's
            :class:`~polyrlaif.core.judges.JudgeStats`), so a run can log them; ``None``: no ``stats``.

    Example::

        def exact(row):
            return float(row["completion"].strip() in row["answers"])

        rewards = {"exact": row_reward(exact, "exact")}  # for GRPO, with an ``answers`` column
    """

    def reward_fn(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        cols = _per_sample(columns, len(completions))
        return [
            fn({**{k: v[i] for k, v in cols.items()}, "prompt": p, "completion": c})
            for i, (p, c) in enumerate(zip(prompts, completions, strict=True))
        ]

    reward_fn.__name__ = reward_fn.__qualname__ = name
    if stats is not None:
        reward_fn.stats = stats  # type: ignore[attr-defined]
    return reward_fn
