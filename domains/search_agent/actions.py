"""Parse one turn of a search agent's text into the single action it takes.

The model writes exactly one action per turn, as a tag (the model is reminded of them by
:data:`~polyrlaif.domains.search_agent.prompts.ACTION_FORMAT`):

* ``<tool_call>{"name": "search", "arguments": {"query": "...", "k": 5}}</tool_call>``, or
  ``<tool_call>{"name": "read", "arguments": {"doc_id": "fw-006"}}</tool_call>``;
* ``<judge>useful</judge>`` or ``<judge>not useful</judge>``: ReSeek's JUDGE action, a verdict on the
  latest observation;
* ``<answer>final answer</answer>`` with the supporting document ids in ``<cite>id, id</cite>``,
  inside the answer or right after it.

A leading ``<think>...</think>`` block is allowed and ignored, so tags inside it do not count. Other
text outside the action tag is ignored. :func:`parse_action` never raises: text it cannot read
comes back as an ``invalid`` :class:`Action` whose ``error`` tells the model what to fix. Tool
*arguments* are checked by :class:`~polyrlaif.domains.search_agent.tools.SearchTools` when the call
runs, not here.

Example::

    action = parse_action('<think>find it</think><tool_call>{"name": "read", '
                          '"arguments": {"doc_id": "fw-006"}}</tool_call>')
    assert action.kind == "tool_call" and action.arguments == {"doc_id": "fw-006"}
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from polyrlaif.domains.search_agent.tools import TOOL_SIGNATURES

__all__ = ["ACTION_KINDS", "Action", "first_action_end", "parse_action"]

ACTION_KINDS = ("tool_call", "judge", "answer", "invalid")

_OPEN = re.compile(r"<(tool_call|judge|answer)>")
_THINK = re.compile(r"\s*<think>(.*?)</think>", re.DOTALL)
_CITE = re.compile(r"<cite>(.*?)</cite>", re.DOTALL)
_JUDGE_VERDICTS = {"useful": True, "not useful": False}


@dataclass(frozen=True)
class Action:
    """One parsed action.

    Attributes:
        kind: ``tool_call``, ``judge``, ``answer`` or ``invalid``.
        tool: the tool name (``tool_call`` only).
        arguments: the tool arguments (``tool_call`` only).
        useful: the verdict (``judge`` only).
        answer: the answer text without its citations (``answer`` only).
        citations: cited document ids, in order, without duplicates (``answer`` only).
        error: why the text is not a valid action (``invalid`` only).
    """

    kind: str
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    useful: bool | None = None
    answer: str | None = None
    citations: tuple[str, ...] = ()
    error: str | None = None

    @classmethod
    def invalid(cls, error: str) -> Action:
        """An ``invalid`` action carrying ``error``."""
        return cls("invalid", error=error)


def _strip_think(text: str) -> tuple[str, str | None]:
    """The text after a leading think block, or an error when the block is left open."""
    match = _THINK.match(text)
    if match:
        return text[match.end() :], None
    if text.lstrip().startswith("<think>"):
        return text, "the <think> block is not closed with </think>"
    return text, None


def _citations(*parts: str) -> tuple[str, ...]:
    ids: list[str] = []
    for part in parts:
        for body in _CITE.findall(part):
            for doc_id in re.split(r"[,\s]+", body):
                if doc_id and doc_id not in ids:
                    ids.append(doc_id)
    return tuple(ids)


def _parse_tool_call(body: str, tool_names: Collection[str]) -> Action:
    try:
        call = json.loads(body)
    except json.JSONDecodeError as exc:
        return Action.invalid(f"bad JSON in <tool_call>: {exc.msg} at column {exc.colno}")
    if not isinstance(call, dict):
        return Action.invalid(f"<tool_call> must hold a JSON object, got {type(call).__name__}")
    name, arguments = call.get("name"), call.get("arguments")
    if not isinstance(name, str):
        return Action.invalid('<tool_call> needs a string "name"')
    if name not in tool_names:
        return Action.invalid(f"unknown tool {name!r}; available tools: {', '.join(sorted(tool_names))}")
    if not isinstance(arguments, dict):
        got = "none" if arguments is None else type(arguments).__name__
        return Action.invalid(f'<tool_call> needs an "arguments" JSON object, got {got}')
    extra = sorted(set(call) - {"name", "arguments"})
    if extra:
        return Action.invalid(f"<tool_call> has unexpected key(s) {', '.join(extra)}")
    return Action("tool_call", tool=name, arguments=arguments)


def _parse_answer(body: str, after: str) -> Action:
    if "<cite>" in _CITE.sub("", body + after):
        return Action.invalid("a <cite> tag is not closed with </cite>")
    answer = " ".join(_CITE.sub(" ", body).split())
    if not answer:
        return Action.invalid("the <answer> is empty")
    return Action("answer", answer=answer, citations=_citations(body, after))


def first_action_end(text: str) -> int | None:
    """Where the first complete action of a turn ends (after a ``<cite>`` right behind an answer), or
    None when there is no closed action tag.

    A model generating without stop strings runs on after its action (it may invent an
    ``<observation>`` or a second call); the agent keeps the turn only up to here.
    """
    start = 0
    think = _THINK.match(text)
    if think:
        start = think.end()
    opened = _OPEN.search(text, start)
    if opened is None:
        return None
    tag = opened.group(1)
    close = text.find(f"</{tag}>", opened.end())
    if close < 0:
        return None
    end = close + len(f"</{tag}>")
    if tag == "answer":
        cite = re.match(r"\s*<cite>.*?</cite>", text[end:], re.DOTALL)
        if cite:
            end += cite.end()
    return end


def parse_action(text: str, tool_names: Collection[str] = tuple(TOOL_SIGNATURES)) -> Action:
    """The single action in one model turn; never raises.

    Args:
        text: the model's turn.
        tool_names: the tools a ``tool_call`` may name.

    Returns:
        The parsed action, or an ``invalid`` one whose ``error`` says what is wrong: no action tag,
        several actions, an unclosed tag, bad JSON, an unknown tool, an unknown verdict, an empty answer.
    """
    if not isinstance(text, str):
        return Action.invalid(f"expected text, got {type(text).__name__}")
    rest, error = _strip_think(text)
    if error:
        return Action.invalid(error)
    opened = _OPEN.findall(rest)
    if not opened:
        return Action.invalid("no action tag found (<tool_call>, <judge> or <answer>)")
    if len(opened) > 1:
        return Action.invalid(f"several actions in one turn ({', '.join(opened)}); write exactly one")
    tag = opened[0]
    match = re.search(rf"<{tag}>(.*?)</{tag}>", rest, re.DOTALL)
    if match is None:
        return Action.invalid(f"the <{tag}> tag is not closed with </{tag}>")
    body = match.group(1)
    if tag == "tool_call":
        return _parse_tool_call(body.strip(), tool_names)
    if tag == "judge":
        verdict = " ".join(body.split()).lower()
        if verdict not in _JUDGE_VERDICTS:
            return Action.invalid(f"<judge> must be 'useful' or 'not useful', got {body.strip()!r}")
        return Action("judge", useful=_JUDGE_VERDICTS[verdict])
    return _parse_answer(body, rest[match.end() :])
