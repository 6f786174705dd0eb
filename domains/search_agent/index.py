"""Persisted retrieval indexes: built once, reused while the corpus is unchanged.

An index is built once by :func:`build_index` into a directory holding a ``manifest.json`` (kind,
corpus sha256 and document count, the encoder's name and settings), the document ids in index order,
and the parts of its kind. The directory is assembled beside its final path and renamed into place, so
a reader sees a whole index or none; a rebuild for an unchanged corpus and encoder is skipped.
:func:`load_retriever` opens it as a retriever of :mod:`polyrlaif.domains.search_agent.retrieval`.

Example::

    build_index("corpus.jsonl", "runs/index", kind="hybrid")
    retriever = load_retriever("runs/index", corpus_path="corpus.jsonl")
    hits = retriever.search("Who designed the Greywick Light?", k=5)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, atomic_dir, atomic_write_json
from polyrlaif.core.text_encoder import DEFAULT_ENCODER, TextEncoder
from polyrlaif.domains.search_agent.corpus import file_sha256, load_corpus
from polyrlaif.domains.search_agent.retrieval import (
    DEFAULT_RRF_K,
    KINDS,
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    Retriever,
)

__all__ = [
    "IndexManifest",
    "build_index",
    "load_retriever",
    "read_manifest",
]

logger = logging.getLogger(__name__)

# bump when the directory layout or the embeddings change, so old indexes are rebuilt, not misread.
# 2: embeddings by sentence-transformers (the model's own pooling, normalisation and prompts), and the
# encoder's settings in the manifest; a format-1 index holds hand mean-pooled vectors
INDEX_FORMAT = 2
_MANIFEST = "manifest.json"
_DOC_IDS = "doc_ids.json"


@dataclass(frozen=True)
class IndexManifest:
    """What an index directory holds; written as ``manifest.json``.

    Attributes:
        kind: one of :data:`~polyrlaif.domains.search_agent.retrieval.KINDS`.
        corpus_sha256: sha256 of the corpus file's bytes at build time.
        num_documents: documents indexed.
        encoder: encoder name for ``dense`` and ``hybrid`` indexes, else ``None``.
        encoder_settings: the encoder's :attr:`~polyrlaif.core.text_encoder.TextEncoder.settings`
            (modules, pooling, normalisation, prompts) for ``dense`` and ``hybrid``, else ``None``.
        format: layout version of the directory.
    """

    kind: str
    corpus_sha256: str
    num_documents: int
    encoder: str | None
    encoder_settings: dict[str, Any] | None = None
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
    types = {
        "kind": str,
        "corpus_sha256": str,
        "num_documents": int,
        "encoder": (str, type(None)),
        "encoder_settings": (dict, type(None)),
    }
    for name, typ in types.items():
        if not isinstance(data.get(name), typ):
            raise InputError(
                f"{path}:{name}: missing or of the wrong type ({data.get(name)!r}); rebuild the index"
            )
    if data["kind"] not in KINDS:
        raise InputError(f"{path}:kind: {data['kind']!r} is not one of {', '.join(KINDS)}")
    if data["kind"] != "bm25" and not data["encoder"]:
        raise InputError(f"{path}:encoder: a {data['kind']} index must name its encoder; rebuild the index")
    if data["kind"] != "bm25" and not data["encoder_settings"]:
        raise InputError(
            f"{path}:encoder_settings: a {data['kind']} index must record its encoder's settings; rebuild it"
        )
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
    ``hybrid``) encoder settings: the model, its pooling and normalisation, and the query and passage
    prompts. Anything else at ``index_dir`` is replaced, atomically. The encoder is loaded first, so a
    bad one fails before any work.

    Args:
        corpus_path: the corpus (see :func:`~polyrlaif.domains.search_agent.corpus.load_corpus`).
        index_dir: the index directory to create or reuse.
        kind: ``"bm25"``, ``"dense"`` or ``"hybrid"``.
        encoder: encoder name (or a loaded :class:`TextEncoder`, with its prompts) for ``dense`` and
            ``hybrid``.
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
    enc: TextEncoder | None = None
    if kind != "bm25":
        enc = encoder if isinstance(encoder, TextEncoder) else TextEncoder(encoder)
    settings = enc.settings if enc is not None else None
    sha = file_sha256(corpus_path)
    old = _existing_manifest(index_dir)
    if (
        not force
        and old is not None
        and (old.kind, old.corpus_sha256, old.encoder_settings) == (kind, sha, settings)
    ):
        logger.info("%s: %s index is up to date with %s; not rebuilding", index_dir, kind, corpus_path)
        return old

    documents = load_corpus(corpus_path)
    manifest = IndexManifest(
        kind=kind,
        corpus_sha256=sha,
        num_documents=len(documents),
        encoder=enc.name if enc is not None else None,
        encoder_settings=settings,
    )
    with atomic_dir(index_dir) as tmp:
        atomic_write_json(tmp / _DOC_IDS, [d.id for d in documents])
        if kind in ("bm25", "hybrid"):
            BM25Retriever.build(documents, show_progress=show_progress).save(tmp)
        if enc is not None:
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


def _manifest_encoder(
    index_dir: Path, manifest: IndexManifest, encoder: str | TextEncoder | None
) -> TextEncoder:
    """The encoder that embeds queries for the index: ``encoder``, or the manifest's, loaded with the
    prompts it records; its settings must be those the documents were embedded with."""
    recorded = manifest.encoder_settings or {}
    if not isinstance(encoder, TextEncoder):
        encoder = TextEncoder(
            str(manifest.encoder),
            query_prompt=recorded.get("query_prompt"),
            passage_prompt=recorded.get("passage_prompt"),
        )
    if encoder.settings != recorded:
        changed = sorted(
            k for k in {*recorded, *encoder.settings} if recorded.get(k) != encoder.settings.get(k)
        )
        raise InputError(
            f"{index_dir}: index was built with other settings of encoder {manifest.encoder!r} "
            f"(differing: {', '.join(changed)}); rebuild it with build_index()"
        )
    return encoder


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
            the manifest, with the settings recorded there. Default: load the manifest's encoder, with
            the prompts recorded there.
        weights: ``(bm25, dense)`` fusion weights; hybrid indexes only.
        rrf_k: the RRF constant; hybrid indexes only.

    Raises:
        InputError: no index, a bad manifest, an index built from another corpus or with another
            encoder (or other encoder settings), or missing parts. The message names the directory.
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
            parts.append(
                DenseRetriever.load(index_dir, doc_ids, _manifest_encoder(index_dir, manifest, encoder))
            )
    except InputError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:  # missing or corrupt part files
        raise InputError(f"{index_dir}: cannot open the {manifest.kind} index ({exc}); rebuild it") from exc
    if manifest.kind == "hybrid":
        return HybridRetriever(parts, weights=weights, rrf_k=rrf_k)
    return parts[0]
