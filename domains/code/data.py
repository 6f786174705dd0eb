"""Training prompts of the `code` domain, built from the packaged tasks."""

from __future__ import annotations

from collections.abc import Sequence

from polyrlaif.core.records import PromptRecord
from polyrlaif.domains.code.prompts import build_messages

__all__ = ["task_to_prompt", "load_prompts"]

_TASK_KEYS = ("task_id", "prompt", "test", "entry_point")


def task_to_prompt(task: dict) -> PromptRecord:
    """A HumanEval-schema task as a chat prompt; the task itself rides along in ``meta``."""
    return PromptRecord(
        prompt_id=task["task_id"],
        text=task["prompt"],
        messages=build_messages(task["prompt"]),
        meta={k: task[k] for k in (*_TASK_KEYS, "family") if k in task},
    )


def load_prompts(split: str = "train", families: Sequence[str] | None = None) -> list[PromptRecord]:
    """Prompts for the given split of the packaged tasks."""
    from polyrlaif.datasets.code_tasks import load_code_tasks

    return [task_to_prompt(t) for t in load_code_tasks(split, families=families)]
