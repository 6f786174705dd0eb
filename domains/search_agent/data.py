"""The search agent's data: the corpus and its persisted index, the tools over them, the questions.

Defaults are the packaged fictional corpus and questions (:mod:`polyrlaif.datasets.qa.fictional`),
which no model can answer from memory. An index is built once per corpus content and kind into
``$POLYRLAIF_CACHE/indexes/<corpus sha256[:16]>-<kind>`` (``~/.cache/polyrlaif`` when unset; a dense or
hybrid index adds a digest of the encoder and its prompts) unless a directory is given, and reused from
then on.

Example::

    tools = open_tools(index_kind="bm25")
    train, held_out = split_questions(load_questions_file(None), holdout=0.3)
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError

__all__ = [
    "default_corpus",
    "default_index_dir",
    "load_questions_file",
    "open_tools",
    "split_questions",
    "write_questions",
]

logger = logging.getLogger(__name__)


def default_corpus() -> Path:
    """The packaged fictional corpus."""
    from polyrlaif.datasets.qa.fictional import corpus_path

    return corpus_path()


def default_index_dir(
    corpus: str | os.PathLike,
    kind: str,
    encoder: str | None = None,
    query_prompt: str | None = None,
    passage_prompt: str | None = None,
) -> Path:
    """The cache directory of ``corpus``'s ``kind`` index, named by the corpus's content and, for a dense
    or hybrid index, by the encoder and its prompts (so two encoders do not rebuild one directory in
    turn)."""
    from polyrlaif.core.models import cache_root
    from polyrlaif.core.text_encoder import DEFAULT_ENCODER
    from polyrlaif.domains.search_agent.corpus import file_sha256

    name = f"{file_sha256(corpus)[:16]}-{kind}"
    if kind != "bm25":
        spec = repr((encoder or DEFAULT_ENCODER, query_prompt, passage_prompt))
        name += f"-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"
    return cache_root() / "indexes" / name


def open_tools(
    corpus: str | os.PathLike | None = None,
    *,
    index_kind: str = "bm25",
    index_dir: str | os.PathLike | None = None,
    max_read_chars: int = 4000,
    encoder: str | None = None,
    query_prompt: str | None = None,
    passage_prompt: str | None = None,
) -> Any:
    """``search`` and ``read`` over ``corpus``, building its index first if there is none yet.

    Args:
        corpus: a JSONL corpus ``{id, title, text}``; default: :func:`default_corpus`.
        index_kind: ``bm25``, ``dense`` or ``hybrid``.
        index_dir: where the index lives; default: :func:`default_index_dir`.
        max_read_chars: characters of a document ``read`` returns.
        encoder: the dense encoder (``dense``, ``hybrid``); default: the packaged all-MiniLM-L6-v2.
        query_prompt: prefix of every query; default: the encoder's own ``query`` prompt, if any.
        passage_prompt: prefix of every document; default: the encoder's own passage prompt, if any.

    Returns:
        A :class:`~polyrlaif.domains.search_agent.tools.SearchTools`.

    Raises:
        InputError: a missing or empty corpus, or an index that cannot be built or opened.
    """
    from polyrlaif.core.text_encoder import DEFAULT_ENCODER, TextEncoder
    from polyrlaif.domains.search_agent.corpus import load_corpus
    from polyrlaif.domains.search_agent.index import build_index, load_retriever
    from polyrlaif.domains.search_agent.tools import SearchTools

    corpus = Path(corpus) if corpus is not None else default_corpus()
    if not corpus.is_file():
        raise InputError(f"{corpus}: no such corpus file")
    documents = load_corpus(corpus)  # an empty or malformed corpus fails here, naming file and line
    enc = None
    if index_kind != "bm25":  # loaded once, before any work: to build (or check) the index and for queries
        prompts = {"query_prompt": query_prompt, "passage_prompt": passage_prompt}
        enc = TextEncoder(encoder or DEFAULT_ENCODER, **prompts)
    if index_dir is None:
        index_dir = default_index_dir(corpus, index_kind, encoder, query_prompt, passage_prompt)
    index_dir = Path(index_dir)
    # skipped when an up-to-date index is there (same corpus, kind and encoder settings)
    build_index(corpus, index_dir, kind=index_kind, encoder=enc if enc is not None else DEFAULT_ENCODER)
    retriever = load_retriever(index_dir, corpus_path=corpus, encoder=enc)
    return SearchTools(retriever, documents, max_read_chars=max_read_chars)


def load_questions_file(path: str | os.PathLike | None, fmt: str = "auto") -> list[Any]:
    """Questions from ``path`` (any format :func:`polyrlaif.datasets.qa.loaders.load_qa` reads), or
    the packaged fictional questions when ``path`` is ``None``."""
    from polyrlaif.datasets.qa.loaders import load_qa

    if path is None:
        from polyrlaif.datasets.qa.fictional import questions_path

        return list(load_qa(questions_path(), "fictional"))
    return list(load_qa(path, fmt))


def _bucket(question_id: str) -> float:
    """A stable number in [0, 1) per id: the split does not move when questions are added."""
    return int(hashlib.sha256(question_id.encode()).hexdigest()[:8], 16) / 16**8


def split_questions(questions: Sequence[Any], holdout: float) -> tuple[list[Any], list[Any]]:
    """``(train, held_out)``: each question held out when its id's hash falls below ``holdout``.

    Raises:
        ValueError: ``holdout`` outside [0, 1), or a split that leaves either side empty.
    """
    if not 0 <= holdout < 1:
        raise ValueError(f"eval_holdout must be in [0, 1), got {holdout}")
    held = [q for q in questions if _bucket(q.id) < holdout]
    train = [q for q in questions if _bucket(q.id) >= holdout]
    if not train or (holdout > 0 and not held):
        raise ValueError(
            f"holding out {holdout:.0%} of {len(questions)} questions leaves {len(train)} to train on and "
            f"{len(held)} to evaluate; use more questions or another eval_holdout"
        )
    return train, held


def write_questions(path: str | os.PathLike, questions: Sequence[Any]) -> Path:
    """Write questions as fictional-format JSONL (``id, question, answers, supporting_ids``), atomically."""
    from polyrlaif.core.io import atomic_write_jsonl

    rows = [
        {
            "id": q.id,
            "question": q.question,
            "answers": list(q.answers),
            "supporting_ids": list(getattr(q, "supporting_ids", ()) or ()),
        }
        for q in questions
    ]
    return atomic_write_jsonl(path, rows)
