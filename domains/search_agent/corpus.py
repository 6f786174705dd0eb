"""The document collection a search agent retrieves from: one JSONL row per document.

Each row is ``{"id": str, "title": str, "text": str}``. Every field must be a non-empty string and
ids must be unique, so that a retriever hit can always be resolved back to exactly one document.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.io import InputError, iter_jsonl

__all__ = ["DOCUMENT_FIELDS", "Document", "file_sha256", "load_corpus"]

DOCUMENT_FIELDS = ("id", "title", "text")


@dataclass(frozen=True)
class Document:
    """One retrievable document.

    Attributes:
        id: unique identifier; what retrievers return and what the ``read`` tool takes.
        title: short human-readable title.
        text: the document body.
    """

    id: str
    title: str
    text: str


def _document(row: dict, where: str) -> Document:
    """Validate one corpus row; ``where`` is ``file:line``."""
    for name in DOCUMENT_FIELDS:
        if name not in row:
            raise InputError(f"{where}:{name}: missing field")
        value = row[name]
        if not isinstance(value, str):
            raise InputError(f"{where}:{name}: expected a string, got {type(value).__name__} {value!r}")
        if not value.strip():
            raise InputError(f"{where}:{name}: empty string")
    return Document(id=row["id"], title=row["title"], text=row["text"])


def load_corpus(path: str | os.PathLike) -> list[Document]:
    """Read and validate a JSONL corpus.

    Args:
        path: JSONL file with one ``{"id", "title", "text"}`` object per line; blank lines are skipped.

    Returns:
        The documents, in file order.

    Raises:
        InputError: the file is missing or holds no documents, or a line is not a JSON object, lacks a
            field, has a non-string or empty field, or repeats an earlier id. The message reads
            ``file:line:field: what is wrong``.
    """
    path = Path(path)
    documents: list[Document] = []
    first_seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        doc = _document(row, f"{path}:{lineno}")
        if doc.id in first_seen:
            raise InputError(
                f"{path}:{lineno}:id: duplicate id {doc.id!r} (first on line {first_seen[doc.id]})"
            )
        first_seen[doc.id] = lineno
        documents.append(doc)
    if not documents:
        raise InputError(f"{path}: the corpus holds no documents")
    return documents


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes; identifies the exact corpus an index was built from."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
