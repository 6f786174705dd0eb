"""Stage 1 of InstructEngine's judging: deterministic rule checks on the image, where an axis allows one.

A rule reads the prompt *text* and the image file, and returns per-axis verdicts (``True``/``False``, a
partial credit in [0, 1], or ``None`` where the axis does not apply), or ``None`` when the prompt is
outside what it can check. The packaged rule ``draw`` checks objects, colours, counts and left/right
positions with the draw world's own colour-blob detector (:func:`polyrlaif.datasets.draw.check`); it
reads the image, never the generator's ground truth; ``draw_graded`` gives partial credit (how near each
count is). A user registers their own with :func:`register_rule`, or names a ``"module:attr"`` callable
in ``domain.rules``.

:class:`RuleVerifier` scores a candidate by the share of applicable checks that hold, under its own prompt
(``Judgment.score``) and under each analogous prompt (``scores["under"]``), for cross-validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "RULES",
    "RuleFn",
    "RuleVerifier",
    "draw_graded_rule",
    "draw_rule",
    "register_rule",
    "resolve_rule",
]

#: ``(prompt text, image path) -> {axis: bool | float | None} | None`` (``None``: the rule cannot check
#: this prompt).
RuleFn = Callable[[str, str], "Mapping[str, bool | float | None] | None"]


def draw_rule(prompt: str, image: str) -> dict[str, bool | None] | None:
    """The draw world's checks: object, colour, count and position, by its colour-blob detector."""
    from polyrlaif.datasets.draw import check

    verdict = check(prompt, image)
    if verdict.get("reason"):
        return None
    return {k: v for k, v in verdict.items() if k in ("object", "colour", "count", "position")}  # type: ignore[misc]


def draw_graded_rule(prompt: str, image: str) -> dict[str, float | None] | None:
    """The draw world's checks with partial credit (:func:`polyrlaif.datasets.draw.check_graded`): the
    share of named shapes and colours present, how close each group's count is. Two images that both
    miss a count exactly still differ when one is nearer, so a prompt's best and worst differ more often."""
    from polyrlaif.datasets.draw import check_graded

    verdict = check_graded(prompt, image)
    if verdict.get("reason"):
        return None
    return {k: v for k, v in verdict.items() if k in ("object", "colour", "count", "position")}  # type: ignore[misc]


#: Registered rules by name.
RULES: dict[str, RuleFn] = {"draw": draw_rule, "draw_graded": draw_graded_rule}


def register_rule(name: str, fn: RuleFn) -> None:
    """Register a rule under ``name`` for ``domain.rules``."""
    RULES[name] = fn


def resolve_rule(name: str) -> RuleFn:
    """A registered rule, or a ``"module:attr"`` callable.

    Raises:
        KeyError: naming the registered rules, for an unknown name.
    """
    if name in RULES:
        return RULES[name]
    if ":" in name:
        from polyrlaif.core.registry import load_object

        return load_object(name)
    raise KeyError(f"unknown rule {name!r}; registered: {', '.join(sorted(RULES))}, or give 'module:attr'")


def _share(verdicts: list[Mapping[str, bool | None]]) -> float | None:
    applicable = [v for verdict in verdicts for v in verdict.values() if v is not None]
    return sum(applicable) / len(applicable) if applicable else None


class RuleVerifier:
    """Runs the rules on each candidate's image. ``score`` = share of applicable checks that hold.

    Advisory (``required = False``): a prompt no rule can check (outside the draw world's grammar) is
    left to the multimodal judge instead of holding its candidates back.

    Args:
        rules: rule names (see :func:`resolve_rule`).
    """

    required = False

    def __init__(self, rules: Sequence[str] = ("draw",)) -> None:
        self.rule_names = list(rules)
        self.rules = [resolve_rule(r) for r in rules]
        self.name = "rules"

    def check(self, text: str, image: str) -> tuple[float | None, dict[str, Any]]:
        """The share of checks that hold for ``image`` under ``text``, and the per-rule verdicts."""
        found = {}
        for name, rule in zip(self.rule_names, self.rules, strict=True):
            verdict = rule(text, image)
            if verdict is not None:
                found[name] = dict(verdict)
        return _share(list(found.values())), found

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """One judgment per candidate; ``failure`` where no image or no rule applies."""
        from polyrlaif.core.media import load_image

        out = []
        for c in candidates:
            j = Judgment(
                candidate_id=c.candidate_id, judge_id=self.name, kind="verifier", prompt_id=c.prompt_id
            )
            image = next((m.uri for m in c.media if m.kind == "image"), None)
            prompt = prompts[c.prompt_id]
            try:
                if image is None:
                    raise ValueError("the candidate carries no image")
                load_image(image)
            except Exception as exc:
                j.failure = f"unreadable_image: {exc}"
                out.append(j)
                continue
            score, verdicts = self.check(prompt.text, image)
            if score is None:
                j.failure = f"no_rule_applies: no rule of {self.rule_names} checks {prompt.text[:60]!r}"
            else:
                under = {
                    pid: self.check(text, image)[0] for pid, text in prompt.meta.get("analogs", {}).items()
                }
                j.score = score
                j.scores = {"checks": verdicts, "under": {k: v for k, v in under.items() if v is not None}}
            out.append(j)
        return out
