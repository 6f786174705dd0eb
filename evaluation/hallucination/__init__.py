"""Object-hallucination benchmarks for vision-language models: CHAIR, POPE and AMBER.

* :mod:`.vocab`: :class:`ObjectVocab`, which finds the objects a text names (synonyms, plurals,
  compound names), built from :mod:`.coco_synonyms` or any COCO-format category list;
* :mod:`.loaders`: readers for the public COCO, POPE and AMBER file formats;
* :mod:`.chair`, :mod:`.pope`, :mod:`.amber`: the metrics.

Names are resolved lazily, so importing this package imports none of its modules.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AmberResult",
    "ChairResult",
    "Mention",
    "ObjectVocab",
    "PopeResult",
    "amber_scores",
    "chair_from_files",
    "chair_scores",
    "parse_yes_no",
    "pope_scores",
]

_WHERE = {
    "AmberResult": "amber",
    "amber_scores": "amber",
    "ChairResult": "chair",
    "chair_from_files": "chair",
    "chair_scores": "chair",
    "Mention": "vocab",
    "ObjectVocab": "vocab",
    "PopeResult": "pope",
    "parse_yes_no": "pope",
    "pope_scores": "pope",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # cache: later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
