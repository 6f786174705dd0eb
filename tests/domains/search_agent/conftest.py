"""Shared fixtures: the packaged fictional corpus, its questions, the real MiniLM encoder and real indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyrlaif.datasets.qa.fictional import FictionalQuestion, corpus_path, load_questions
from polyrlaif.domains.search_agent.corpus import Document, load_corpus


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run the encoder on one thread: its batches are tiny, and on a busy two-core machine OpenMP's
    spin-waiting makes two threads about twenty times slower than one. Restored after each test."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def documents() -> list[Document]:
    return load_corpus(corpus_path())


@pytest.fixture(scope="session")
def questions() -> list[FictionalQuestion]:
    return load_questions()


@pytest.fixture(scope="session")
def encoder():
    """The packaged all-MiniLM-L6-v2, loaded once for the session."""
    from polyrlaif.domains.search_agent.encoder import TextEncoder

    return TextEncoder()


@pytest.fixture(scope="session")
def index_dirs(tmp_path_factory, encoder) -> dict[str, Path]:
    """One index of each kind over the packaged corpus, built once. Tests must not modify them."""
    import torch

    from polyrlaif.domains.search_agent.index import build_index
    from polyrlaif.domains.search_agent.retrieval import KINDS

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the autouse fixture is function-scoped; this one runs outside it
    try:
        root = tmp_path_factory.mktemp("indexes")
        for kind in KINDS:
            build_index(corpus_path(), root / kind, kind, encoder=encoder, show_progress=False)
    finally:
        torch.set_num_threads(threads)
    return {kind: root / kind for kind in KINDS}
