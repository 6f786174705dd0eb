"""Sampling for the `code` domain: chat prompts, n samples at temperature T, code pulled from fences."""

from __future__ import annotations

from typing import Any

from polyrlaif.core.records import PromptRecord
from polyrlaif.core.sampling import TextSampler
from polyrlaif.domains.code.prompts import extract_code

__all__ = ["CodeSampler", "code_meta"]


def code_meta(prompt: PromptRecord, text: str) -> dict[str, Any]:
    """The code a response contains, stored beside the raw text for the verifiers."""
    return {"code": extract_code(text)}


class CodeSampler(TextSampler):
    """The core text sampler with markdown-fence code extraction."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(postprocess=code_meta, **kwargs)
