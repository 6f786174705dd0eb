"""Retrievers over a document corpus.

Three kinds, one :class:`Retriever` protocol (``search(query, k) -> list[Hit]``):

* ``bm25``: lexical BM25 (``bm25s``) over lowercased word tokens without English stopwords.
* ``dense``: cosine similarity of all-MiniLM-L6-v2 embeddings in an exact ``faiss.IndexFlatIP``.
* ``hybrid``: weighted reciprocal rank fusion of the two (Cormack et al., 2009).

Each retriever is built in memory from documents; the BM25 and dense ones also save their parts
under a directory and load them back. Persisted indexes (a manifest, the document ids, the parts)
live in :mod:`polyrlaif.domains.search_agent.index`.

Example::

    bm25 = BM25Retriever.build(load_corpus("corpus.jsonl"))
    hits = bm25.search("Who designed the Greywick Light?", k=5)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from polyrlaif.core.text_encoder import TextEncoder
from polyrlaif.domains.search_agent.corpus import Document

__all__ = [
    "DEFAULT_RRF_K",
    "KINDS",
    "BM25Retriever",
    "DenseRetriever",
    "Hit",
    "HybridRetriever",
    "Retriever",
    "tokenize",
]

KINDS = ("bm25", "dense", "hybrid")
DEFAULT_RRF_K = 60  # the constant of the original RRF paper; large k flattens the rank curve
_BM25_DIR = "bm25"
_DENSE_FILE = "dense.faiss"
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Hit:
    """One retrieved document.

    Attributes:
        doc_id: the document's id.
        score: the retriever's score; higher is better, comparable only within one result list.
        rank: 1-based position in the result list.
    """

    doc_id: str
    score: float
    rank: int


class Retriever(Protocol):
    """Anything that ranks documents for a query."""

    def search(self, query: str, k: int) -> list[Hit]:
        """The best ``k`` (or fewer) documents for ``query``, best first."""
        ...


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of ``text`` without English stopwords.

    The stopwords are bm25s's ``STOPWORDS_EN_PLUS`` (179 words, NLTK-style), not the 33 of Lucene's
    ``STOPWORDS_EN``: queries are questions, and "who", "what", "how" would otherwise score as terms.
    """
    stop = _stopwords()
    return [t for t in _WORD.findall(text.lower()) if t not in stop]


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def _doc_text(doc: Document) -> str:
    return f"{doc.title}\n{doc.text}"


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first; ties go to the lower index."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


class BM25Retriever:
    """BM25 over titles and texts.

    Args:
        model: a fitted ``bm25s.BM25``.
        doc_ids: document id of each indexed row, in index order.
    """

    def __init__(self, model: Any, doc_ids: Sequence[str]) -> None:
        self.model = model
        self.doc_ids = list(doc_ids)

    @classmethod
    def build(
        cls, documents: Sequence[Document], *, k1: float = 1.5, b: float = 0.75, show_progress: bool = False
    ) -> BM25Retriever:
        """Index ``documents`` (title and text together)."""
        import bm25s

        model = bm25s.BM25(k1=k1, b=b)
        model.index([tokenize(_doc_text(d)) for d in documents], show_progress=show_progress)
        return cls(model, [d.id for d in documents])

    def save(self, directory: Path) -> None:
        """Write the index under ``directory``."""
        self.model.save(str(directory / _BM25_DIR), show_progress=False)

    @classmethod
    def load(cls, directory: Path, doc_ids: Sequence[str]) -> BM25Retriever:
        """Open an index written by :meth:`save`."""
        import bm25s

        return cls(bm25s.BM25.load(str(directory / _BM25_DIR), show_progress=False), doc_ids)

    def search(self, query: str, k: int) -> list[Hit]:
        """Documents sharing terms with ``query``; documents that share none are not hits."""
        _check_k(k)
        tokens = [t for t in tokenize(query) if t in self.model.vocab_dict]
        if not tokens:
            return []
        scores = np.asarray(self.model.get_scores(tokens), dtype=np.float64)
        top = [i for i in _top_k(scores, k) if scores[i] > 0]
        return [Hit(self.doc_ids[i], float(scores[i]), rank) for rank, i in enumerate(top, start=1)]


class DenseRetriever:
    """Exact inner-product search over the encoder's embeddings (cosine similarity for a model that
    normalises, the dot product for one trained for it). Documents are embedded as passages, queries as
    queries, each with the encoder's prompt for its role.

    Args:
        index: a ``faiss.IndexFlatIP`` holding one embedding per document.
        doc_ids: document id of each indexed row, in index order.
        encoder: the encoder that embedded the documents; it embeds the queries too.
    """

    def __init__(self, index: Any, doc_ids: Sequence[str], encoder: TextEncoder) -> None:
        if index.d != encoder.dim:
            raise ValueError(
                f"index has dimension {index.d} but encoder {encoder.name!r} gives {encoder.dim}"
            )
        self.index = index
        self.doc_ids = list(doc_ids)
        self.encoder = encoder

    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        encoder: TextEncoder,
        *,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> DenseRetriever:
        """Embed ``documents`` (title and text together, as passages) in batches and index them."""
        import faiss

        vectors = encoder.encode_passages(
            [_doc_text(d) for d in documents], batch_size=batch_size, show_progress=show_progress
        )
        index = faiss.IndexFlatIP(encoder.dim)
        index.add(vectors)
        return cls(index, [d.id for d in documents], encoder)

    def save(self, directory: Path) -> None:
        """Write the index under ``directory``."""
        import faiss

        faiss.write_index(self.index, str(directory / _DENSE_FILE))

    @classmethod
    def load(cls, directory: Path, doc_ids: Sequence[str], encoder: TextEncoder) -> DenseRetriever:
        """Open an index written by :meth:`save`."""
        import faiss

        return cls(faiss.read_index(str(directory / _DENSE_FILE)), doc_ids, encoder)

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` documents closest to ``query``; a blank query has no hits."""
        _check_k(k)
        if not query.strip():
            return []
        scores, rows = self.index.search(self.encoder.encode_queries([query]), min(k, self.index.ntotal))
        pairs = [(int(i), float(s)) for i, s in zip(rows[0], scores[0], strict=True) if i >= 0]
        return [Hit(self.doc_ids[i], s, rank) for rank, (i, s) in enumerate(pairs, start=1)]


class HybridRetriever:
    """Weighted reciprocal rank fusion: ``score(d) = sum_i w_i / (rrf_k + rank_i(d))``.

    Fusing ranks rather than scores needs no calibration between BM25 scores and cosines.

    Args:
        retrievers: the retrievers to fuse, e.g. ``[bm25, dense]``.
        weights: one non-negative weight per retriever (default all 1.0).
        rrf_k: the RRF constant; larger values give lower ranks relatively more say.
        depth: hits taken from each retriever before fusing (at least ``k`` of the query).
    """

    def __init__(
        self,
        retrievers: Sequence[Retriever],
        *,
        weights: Sequence[float] | None = None,
        rrf_k: float = DEFAULT_RRF_K,
        depth: int = 50,
    ) -> None:
        weights = [1.0] * len(retrievers) if weights is None else [float(w) for w in weights]
        if not retrievers or len(weights) != len(retrievers):
            raise ValueError(
                f"need one weight per retriever: {len(retrievers)} retrievers, {len(weights)} weights"
            )
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise ValueError(f"weights must be non-negative and not all zero, got {weights}")
        if rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {rrf_k}")
        self.retrievers = list(retrievers)
        self.weights = weights
        self.rrf_k = float(rrf_k)
        self.depth = depth

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` best documents by fused score; ties keep first-seen order."""
        _check_k(k)
        fused: dict[str, float] = {}
        for retriever, weight in zip(self.retrievers, self.weights, strict=True):
            if weight == 0:
                continue
            for hit in retriever.search(query, max(k, self.depth)):
                fused[hit.doc_id] = fused.get(hit.doc_id, 0.0) + weight / (self.rrf_k + hit.rank)
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:k]
        return [Hit(doc_id, score, rank) for rank, (doc_id, score) in enumerate(ranked, start=1)]
