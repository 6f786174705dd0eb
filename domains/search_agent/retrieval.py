"""Retrievers over a document corpus, and the indexes they persist.

Three kinds, one :class:`Retriever` protocol (``search(query, k) -> list[Hit]``):

* ``bm25``: lexical BM25 (``bm25s``) over lowercased word tokens without English stopwords.
* ``dense``: cosine similarity of all-MiniLM-L6-v2 embeddings in an exact ``faiss.IndexFlatIP``.
* ``hybrid``: weighted reciprocal rank fusion of the two (Cormack et al., 2009).

An index is built once by :func:`build_index` into a directory holding a ``manifest.json`` (kind,
corpus sha256 and document count, encoder name), the document ids in index order, and the parts of
its kind. The directory is assembled beside its final path and renamed into place, so a reader sees
a whole index or none; a rebuild for an unchanged corpus is skipped. :func:`load_retriever` opens it.

Example::

    build_index("corpus.jsonl", "runs/index", kind="hybrid")
    retriever = load_retriever("runs/index", corpus_path="corpus.jsonl")
    hits = retriever.search("Who designed the Greywick Light?", k=5)
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from polyrlaif.core.io import InputError, atomic_dir, atomic_write_json
from polyrlaif.domains.search_agent.corpus import Document, file_sha256, load_corpus
from polyrlaif.domains.search_agent.encoder import DEFAULT_ENCODER, TextEncoder

__all__ = [
    "DEFAULT_RRF_K",
    "KINDS",
    "BM25Retriever",
    "DenseRetriever",
    "Hit",
    "HybridRetriever",
    "IndexManifest",
    "Retriever",
    "build_index",
    "load_retriever",
    "read_manifest",
    "tokenize",
]

logger = logging.getLogger(__name__)

KINDS = ("bm25", "dense", "hybrid")
DEFAULT_RRF_K = 60  # the constant of the original RRF paper; large k flattens the rank curve
INDEX_FORMAT = 1  # bump when the directory layout changes, so old indexes are rebuilt, not misread
_MANIFEST = "manifest.json"
_DOC_IDS = "doc_ids.json"
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
    """Exact inner-product search over unit-norm embeddings (cosine similarity).

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
        """Embed ``documents`` (title and text together) in batches and index them."""
        import faiss

        vectors = encoder.encode(
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
        scores, rows = self.index.search(self.encoder.encode([query]), min(k, self.index.ntotal))
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


@dataclass(frozen=True)
class IndexManifest:
    """What an index directory holds; written as ``manifest.json``.

    Attributes:
        kind: one of :data:`KINDS`.
        corpus_sha256: sha256 of the corpus file's bytes at build time.
        num_documents: documents indexed.
        encoder: encoder name for ``dense`` and ``hybrid`` indexes, else ``None``.
        format: layout version of the directory.
    """

    kind: str
    corpus_sha256: str
    num_documents: int
    encoder: str | None
    format: int = INDEX_FORMAT


def read_manifest(index_dir: str | os.PathLike) -> IndexManifest:
    """Read and check ``index_dir/manifest.json``.

    Raises:
        InputError: no index there, or a manifest that is malformed or of another format version.
    """
    index_dir = Path(index_dir)
    path = index_dir / _MANIFEST
    if not path.is_file():
        raise InputError(f"{index_dir}: no index here (no {_MANIFEST}); create one with build_index()")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: malformed JSON ({exc}); rebuild the index") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object; rebuild the index")
    if data.get("format") != INDEX_FORMAT:
        raise InputError(
            f"{path}:format: index format {data.get('format')!r}, this code reads {INDEX_FORMAT}; rebuild it"
        )
    types = {"kind": str, "corpus_sha256": str, "num_documents": int, "encoder": (str, type(None))}
    for name, typ in types.items():
        if not isinstance(data.get(name), typ):
            raise InputError(
                f"{path}:{name}: missing or of the wrong type ({data.get(name)!r}); rebuild the index"
            )
    if data["kind"] not in KINDS:
        raise InputError(f"{path}:kind: {data['kind']!r} is not one of {', '.join(KINDS)}")
    if data["kind"] != "bm25" and not data["encoder"]:
        raise InputError(f"{path}:encoder: a {data['kind']} index must name its encoder; rebuild the index")
    return IndexManifest(**{name: data[name] for name in (*types, "format")})


def _existing_manifest(index_dir: Path) -> IndexManifest | None:
    try:
        return read_manifest(index_dir)
    except InputError:
        return None


def build_index(
    corpus_path: str | os.PathLike,
    index_dir: str | os.PathLike,
    kind: str = "bm25",
    *,
    encoder: str | TextEncoder = DEFAULT_ENCODER,
    batch_size: int = 32,
    force: bool = False,
    show_progress: bool = True,
) -> IndexManifest:
    """Build the ``kind`` index of a JSONL corpus into ``index_dir``, unless an up-to-date one is there.

    An index is up to date when its manifest has the same kind, corpus sha256 and (for ``dense`` and
    ``hybrid``) encoder name. Anything else at ``index_dir`` is replaced, atomically.

    Args:
        corpus_path: the corpus (see :func:`~polyrlaif.domains.search_agent.corpus.load_corpus`).
        index_dir: the index directory to create or reuse.
        kind: ``"bm25"``, ``"dense"`` or ``"hybrid"``.
        encoder: encoder name (or a loaded :class:`TextEncoder`) for ``dense`` and ``hybrid``.
        batch_size: texts per encoder forward pass.
        force: rebuild even when the index is up to date.
        show_progress: show progress bars while indexing.

    Returns:
        The manifest of the index now in ``index_dir``.

    Raises:
        ValueError: unknown ``kind``.
        InputError: the corpus is missing or invalid, or the encoder cannot be loaded.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    corpus_path, index_dir = Path(corpus_path), Path(index_dir)
    if not corpus_path.is_file():
        raise InputError(f"{corpus_path}: no such file")
    encoder_name = None if kind == "bm25" else (encoder.name if isinstance(encoder, TextEncoder) else encoder)
    sha = file_sha256(corpus_path)
    old = _existing_manifest(index_dir)
    if (
        not force
        and old is not None
        and (old.kind, old.corpus_sha256, old.encoder) == (kind, sha, encoder_name)
    ):
        logger.info("%s: %s index is up to date with %s; not rebuilding", index_dir, kind, corpus_path)
        return old

    documents = load_corpus(corpus_path)
    manifest = IndexManifest(kind=kind, corpus_sha256=sha, num_documents=len(documents), encoder=encoder_name)
    with atomic_dir(index_dir) as tmp:
        atomic_write_json(tmp / _DOC_IDS, [d.id for d in documents])
        if kind in ("bm25", "hybrid"):
            BM25Retriever.build(documents, show_progress=show_progress).save(tmp)
        if kind in ("dense", "hybrid"):
            enc = encoder if isinstance(encoder, TextEncoder) else TextEncoder(encoder)
            DenseRetriever.build(documents, enc, batch_size=batch_size, show_progress=show_progress).save(tmp)
        atomic_write_json(tmp / _MANIFEST, asdict(manifest))  # last: a manifest means a complete index
    return manifest


def _read_doc_ids(index_dir: Path, manifest: IndexManifest) -> list[str]:
    path = index_dir / _DOC_IDS
    try:
        doc_ids = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); rebuild the index") from None
    if (
        not isinstance(doc_ids, list)
        or len(doc_ids) != manifest.num_documents
        or not all(isinstance(i, str) for i in doc_ids)
    ):
        raise InputError(
            f"{path}: does not list the {manifest.num_documents} documents of the manifest; rebuild"
        )
    return doc_ids


def load_retriever(
    index_dir: str | os.PathLike,
    *,
    corpus_path: str | os.PathLike | None = None,
    encoder: str | TextEncoder | None = None,
    weights: Sequence[float] = (1.0, 1.0),
    rrf_k: float = DEFAULT_RRF_K,
) -> Retriever:
    """Open the index in ``index_dir`` as a retriever of its kind.

    Args:
        index_dir: a directory written by :func:`build_index`.
        corpus_path: if given, the index must have been built from this file's current bytes.
        encoder: the encoder (name or loaded) for ``dense`` and ``hybrid``; it must be the one named in
            the manifest. Default: load the manifest's encoder.
        weights: ``(bm25, dense)`` fusion weights; hybrid indexes only.
        rrf_k: the RRF constant; hybrid indexes only.

    Raises:
        InputError: no index, a bad manifest, an index built from another corpus or with another
            encoder, or missing parts. The message names the directory.
    """
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if corpus_path is not None:
        sha = file_sha256(corpus_path) if Path(corpus_path).is_file() else None
        if sha != manifest.corpus_sha256:
            raise InputError(
                f"{index_dir}: index was built from a corpus with sha256 {manifest.corpus_sha256[:12]}..., "
                f"but {corpus_path} {'has sha256 ' + sha[:12] + '...' if sha else 'does not exist'}; "
                "rebuild it with build_index()"
            )
    doc_ids = _read_doc_ids(index_dir, manifest)
    name = encoder.name if isinstance(encoder, TextEncoder) else encoder
    if manifest.kind != "bm25" and name is not None and name != manifest.encoder:
        raise InputError(f"{index_dir}: index was built with encoder {manifest.encoder!r}, not {name!r}")
    parts: list[Retriever] = []
    try:
        if manifest.kind in ("bm25", "hybrid"):
            parts.append(BM25Retriever.load(index_dir, doc_ids))
        if manifest.kind in ("dense", "hybrid"):
            enc = encoder if isinstance(encoder, TextEncoder) else TextEncoder(manifest.encoder)
            parts.append(DenseRetriever.load(index_dir, doc_ids, enc))
    except InputError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:  # missing or corrupt part files
        raise InputError(f"{index_dir}: cannot open the {manifest.kind} index ({exc}); rebuild it") from exc
    if manifest.kind == "hybrid":
        return HybridRetriever(parts, weights=weights, rrf_k=rrf_k)
    return parts[0]
