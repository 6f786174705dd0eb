"""The search and read tools: useful output, and every malformed call answered, never raised."""

from __future__ import annotations

import pytest

from polyrlaif.domains.search_agent.corpus import Document
from polyrlaif.domains.search_agent.retrieval import BM25Retriever
from polyrlaif.domains.search_agent.tools import Observation, SearchTools


@pytest.fixture(scope="module")
def tools(documents) -> SearchTools:
    return SearchTools(BM25Retriever.build(documents), documents, snippet_chars=60, max_read_chars=100)


def test_search_lists_ids_titles_and_snippets(tools: SearchTools) -> None:
    obs = tools.call("search", {"query": "Who designed the Greywick Light?", "k": 3})
    assert obs.ok and obs.error is None
    lines = obs.content.splitlines()
    assert lines[0] == "Search results for 'Who designed the Greywick Light?':"
    assert lines[1] == "[1] fw-006: Greywick Light"
    assert lines[2].strip().startswith("The Greywick Light is a stone lighthouse") and lines[2].endswith(
        "..."
    )
    assert len(lines[2].strip()) <= 63
    assert sum(line.startswith("[") for line in lines) == 3
    assert tools.call("search", {"query": "Greywick"}).content.count("\n[") <= 5  # k defaults to 5


def test_search_without_matches_says_so(tools: SearchTools) -> None:
    obs = tools.call("search", {"query": "zzyzx"})
    assert obs.ok and "No documents match 'zzyzx'" in obs.content


def test_read_returns_title_and_text_and_truncates(tools: SearchTools, documents) -> None:
    doc = next(d for d in documents if d.id == "fw-061")
    assert len(doc.text) > 100
    obs = tools.call("read", {"doc_id": "fw-061"})
    assert obs.ok
    assert obs.content.startswith("[fw-061] Greywater Light\n" + doc.text[:100])
    assert obs.content.endswith(f"[truncated: showing 100 of {len(doc.text)} characters]")
    full = SearchTools(tools.retriever, documents).read(" fw-061 ")
    assert full == f"[fw-061] Greywater Light\n{doc.text}"


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "browse",
            {"url": "x"},
            "unknown tool 'browse'. Available tools: search(query: str, k: int (optional))",
        ),
        (None, {}, "unknown tool None"),
        ("search", "Greywick", "arguments must be a JSON object"),
        ("search", None, "arguments must be a JSON object"),
        ("search", {}, "search is missing argument(s) query"),
        ("search", {"query": "x", "top_k": 3}, "unexpected argument(s) top_k"),
        ("search", {"query": "", "k": 3}, "'query' must be a non-empty string"),
        ("search", {"query": 42}, "'query' must be a non-empty string"),
        ("search", {"query": "lake", "k": "5"}, "'k' must be an integer, got str '5'"),
        ("search", {"query": "lake", "k": 2.0}, "'k' must be an integer, got float"),
        ("search", {"query": "lake", "k": True}, "'k' must be an integer, got bool"),
        ("search", {"query": "lake", "k": 0}, "'k' must be between 1 and 20"),
        ("search", {"query": "lake", "k": 10**9}, "'k' must be between 1 and 20"),
        ("read", {}, "read is missing argument(s) doc_id"),
        ("read", {"doc_id": 6}, "'doc_id' must be a string, got int"),
        ("read", {"doc_id": "fw-6"}, "no document has id 'fw-6'. Did you mean"),
        ("read", {"doc_id": "Greywick Light"}, "Use search to find document ids"),
        ("read", {"id": "fw-006"}, "unexpected argument(s) id"),
    ],
)
def test_malformed_calls_come_back_as_errors(tools: SearchTools, name, arguments, message: str) -> None:
    obs = tools.call(name, arguments)
    assert isinstance(obs, Observation) and not obs.ok
    assert message in obs.error
    assert obs.content == f"Error: {obs.error}"


def test_unknown_doc_id_suggests_close_ids(tools: SearchTools) -> None:
    assert "'fw-006'" in tools.call("read", {"doc_id": "fw-0066"}).error


def test_retriever_failures_come_back_as_errors(documents) -> None:
    # A real index whose id list is shorter than the index: the lookup fails inside the retriever.
    broken = BM25Retriever.build(documents)
    broken.doc_ids = broken.doc_ids[:1]
    obs = SearchTools(broken, documents).call("search", {"query": "Lake Odrin"})
    assert not obs.ok and obs.error.startswith("search failed: IndexError")
    # An index over documents the tools were not given: the hit cannot be resolved.
    obs = SearchTools(BM25Retriever.build(documents), documents[:1]).call("search", {"query": "Lake Odrin"})
    assert not obs.ok and "LookupError" in obs.error and "not in the corpus" in obs.error


def test_duplicate_documents_are_refused() -> None:
    doc = Document("a", "A", "text")
    with pytest.raises(ValueError, match="duplicate document id 'a'"):
        SearchTools(BM25Retriever.build([doc]), [doc, doc])
