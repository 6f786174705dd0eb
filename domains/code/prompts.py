"""Prompt templates for the code domain, and code extraction from model responses."""

from __future__ import annotations

import re

__all__ = ["SYSTEM_PROMPT", "build_messages", "extract_code", "build_program"]

SYSTEM_PROMPT = "You are a careful Python programmer. Answer with one complete Python code block."

USER_TEMPLATE = (
    "Complete the following Python function. Keep the signature, and return the whole function "
    "in a ```python code block.\n\n```python\n{prompt}\n```"
)

_FENCE = re.compile(r"```[ \t]*(?:python|py|Python|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def build_messages(task_prompt: str) -> list[dict[str, str]]:
    """Chat messages asking the model to complete ``task_prompt`` (signature plus docstring)."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_TEMPLATE.format(prompt=task_prompt.strip("\n"))},
    ]


def extract_code(text: str) -> str:
    """Return the code of a model response.

    Takes the first fenced block that defines a function (else the longest block). An unterminated
    final fence counts, since sampling may stop at ``max_new_tokens``. With no fence at all the
    whole text is returned: the unit tests then decide.
    """
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    if not blocks:
        return text.strip("\n")
    with_def = [b for b in blocks if re.search(r"^\s*def \w+", b, re.MULTILINE)]
    return with_def[0] if with_def else max(blocks, key=len)


def build_program(task_prompt: str, completion: str, test: str, entry_point: str) -> str:
    """HumanEval's program layout: ``prompt + completion + test + check(entry_point)``.

    When the completion restates the whole function (as chat models do), its ``def`` simply
    replaces the prompt's stub; the prompt still contributes its imports.
    """
    body = completion if completion.endswith("\n") else completion + "\n"
    if re.search(rf"^def {re.escape(entry_point)}\s*\(", completion, re.MULTILINE):
        # Chat-style answer: keep the prompt's imports and helpers, drop its dangling stub.
        return f"{task_prompt}    pass\n\n{body}\n{test}\n\ncheck({entry_point})\n"
    return f"{task_prompt}{body}\n{test}\n\ncheck({entry_point})\n"
