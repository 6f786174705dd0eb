"""The tools a search agent calls: ``search`` a corpus and ``read`` one of its documents.

:meth:`SearchTools.call` is what an agent loop uses. It never raises: a call the model got wrong
(unknown tool, missing or mistyped arguments, an unknown document id) and any failure inside the
retriever come back as an :class:`Observation` whose ``error`` says what went wrong and how to call
the tool properly, so the model can read it and try again. ``content`` always holds the text to
show the model.

Example::

    tools = SearchTools(load_retriever("runs/index"), load_corpus("corpus.jsonl"))
    obs = tools.call("search", {"query": "Greywick Light designer", "k": 3})
    obs = tools.call("read", {"doc_id": "fw-006"})
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyrlaif.domains.search_agent.corpus import Document
from polyrlaif.domains.search_agent.retrieval import Retriever

__all__ = ["TOOL_SIGNATURES", "Observation", "SearchTools", "ToolError"]

#: Each tool's arguments: name -> (type, required), in the order the usage hint lists them.
TOOL_SIGNATURES: dict[str, dict[str, tuple[type, bool]]] = {
    "search": {"query": (str, True), "k": (int, False)},
    "read": {"doc_id": (str, True)},
}


class ToolError(ValueError):
    """A tool call the model got wrong; the message is written for the model to read."""


@dataclass(frozen=True)
class Observation:
    """The result of one tool call.

    Attributes:
        tool: the tool name as called.
        arguments: the arguments as called (empty when they were not a mapping).
        content: text for the model: the tool output, or ``"Error: ..."`` when the call failed.
        error: ``None`` on success, else what went wrong.
    """

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    content: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


def _usage(name: str) -> str:
    args = ", ".join(
        f"{arg}: {typ.__name__}" + ("" if required else " (optional)")
        for arg, (typ, required) in TOOL_SIGNATURES[name].items()
    )
    return f"{name}({args})"


def _snippet(text: str, limit: int) -> str:
    """The start of ``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut.rstrip(",;:") + "..."


class SearchTools:
    """``search`` and ``read`` over one corpus.

    Args:
        retriever: ranks documents for a query.
        documents: the corpus the retriever indexes.
        snippet_chars: characters of each document shown in search results.
        max_read_chars: characters of a document that ``read`` returns; the rest is cut with a note.
        max_k: the largest ``k`` a search may ask for.

    Raises:
        ValueError: two documents share an id.
    """

    def __init__(
        self,
        retriever: Retriever,
        documents: Sequence[Document],
        *,
        snippet_chars: int = 200,
        max_read_chars: int = 4000,
        max_k: int = 20,
    ) -> None:
        self.retriever = retriever
        self.documents: dict[str, Document] = {}
        for doc in documents:
            if doc.id in self.documents:
                raise ValueError(f"duplicate document id {doc.id!r}")
            self.documents[doc.id] = doc
        self.snippet_chars = snippet_chars
        self.max_read_chars = max_read_chars
        self.max_k = max_k

    def search(self, query: str, k: int = 5) -> str:
        """The ``k`` best documents for ``query``: rank, id, title and a snippet each.

        Raises:
            ToolError: ``query`` is not a non-empty string or ``k`` is not an int in ``[1, max_k]``.
        """
        if not isinstance(query, str) or not query.strip():
            raise ToolError(f"'query' must be a non-empty string, got {query!r}. Usage: {_usage('search')}")
        if isinstance(k, bool) or not isinstance(k, int):
            raise ToolError(
                f"'k' must be an integer, got {type(k).__name__} {k!r}. Usage: {_usage('search')}"
            )
        if not 1 <= k <= self.max_k:
            raise ToolError(f"'k' must be between 1 and {self.max_k}, got {k}")
        hits = self.retriever.search(query, k)
        if not hits:
            return f"No documents match {query!r}. Try other words."
        lines = [f"Search results for {query!r}:"]
        for hit in hits:
            doc = self.documents.get(hit.doc_id)
            if doc is None:
                raise LookupError(f"the index returned {hit.doc_id!r}, which is not in the corpus")
            lines.append(f"[{hit.rank}] {doc.id}: {doc.title}")
            lines.append(f"    {_snippet(doc.text, self.snippet_chars)}")
        return "\n".join(lines)

    def read(self, doc_id: str) -> str:
        """The title and text of one document, cut to ``max_read_chars`` characters.

        Raises:
            ToolError: ``doc_id`` is not a string or names no document.
        """
        if not isinstance(doc_id, str):
            raise ToolError(f"'doc_id' must be a string, got {type(doc_id).__name__} {doc_id!r}")
        doc = self.documents.get(doc_id.strip())
        if doc is None:
            close = difflib.get_close_matches(doc_id.strip(), list(self.documents), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ToolError(f"no document has id {doc_id!r}.{hint} Use search to find document ids.")
        text = doc.text
        if len(text) > self.max_read_chars:
            text = (
                text[: self.max_read_chars]
                + f"\n[truncated: showing {self.max_read_chars} of {len(doc.text)} characters]"
            )
        return f"[{doc.id}] {doc.title}\n{text}"

    def call(self, name: str, arguments: Any) -> Observation:
        """Run tool ``name`` with ``arguments``; every failure is returned, never raised."""
        args = dict(arguments) if isinstance(arguments, Mapping) else {}
        tool = name if isinstance(name, str) else repr(name)
        try:
            return Observation(tool, args, self._dispatch(name, arguments))
        except ToolError as exc:
            message = str(exc)
        except Exception as exc:  # the agent must see the failure, not crash the rollout
            message = f"{tool} failed: {type(exc).__name__}: {exc}"
        return Observation(tool, args, f"Error: {message}", message)

    def _dispatch(self, name: Any, arguments: Any) -> str:
        if not isinstance(name, str) or name not in TOOL_SIGNATURES:
            tools = ", ".join(_usage(n) for n in TOOL_SIGNATURES)
            raise ToolError(f"unknown tool {name!r}. Available tools: {tools}")
        if not isinstance(arguments, Mapping):
            raise ToolError(
                f"arguments must be a JSON object, got {type(arguments).__name__} {arguments!r}. "
                f"Usage: {_usage(name)}"
            )
        signature = TOOL_SIGNATURES[name]
        unknown = sorted(str(a) for a in arguments if a not in signature)
        if unknown:
            raise ToolError(f"{name} got unexpected argument(s) {', '.join(unknown)}. Usage: {_usage(name)}")
        missing = [a for a, (_, required) in signature.items() if required and a not in arguments]
        if missing:
            raise ToolError(f"{name} is missing argument(s) {', '.join(missing)}. Usage: {_usage(name)}")
        return self.search(**arguments) if name == "search" else self.read(**arguments)
