"""Shared fixtures: the packaged fictional corpus, its questions, the real MiniLM encoder and real indexes,
and a real OpenAI-compatible judge endpoint (``server``) whose "model" follows fixed rules.

The endpoint's rules: a prediction is correct when it contains a gold answer, a document supports an
answer when it contains it; marker words in a prediction script its reply: ``MALFORMED`` a broken object
without a verdict, ``FENCED`` the JSON in a code fence among chatter, ``CUT`` an object cut short in its
reason. Structured output (``structured``): the server may ``ignore`` a request's ``response_format`` (as
a server that predates it), ``honour`` it (answer the schema's object, as guided decoding would: a
MALFORMED reply is then cut short before its verdict), or ``reject`` it with HTTP 400.
"""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path

import pytest

from polyrlaif.core.judges import OpenAIBackend
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
    from polyrlaif.core.text_encoder import TextEncoder

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


def _tag(text: str, name: str) -> str:
    m = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, flags=re.DOTALL)
    return m.group(1) if m else ""


class VerdictServer:
    """The fake judge model's rules and request log (a real server; only the model is fake)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.payloads: list[dict] = []
        self.structured = "ignore"  # what a request's response_format gets: ignore, honour or reject
        self.url = ""
        self.backend: OpenAIBackend | None = None

    def backend_with(self, structured_output: str) -> OpenAIBackend:
        """A client of this server with ``judge.structured_output`` set to ``structured_output``."""
        return OpenAIBackend(
            self.url, "fake-judge", timeout_s=5, retries=0, structured_output=structured_output
        )

    def handle(self, body: dict, request: object) -> tuple[int, dict]:
        """One request: logged, then refused (``structured="reject"``, a ``response_format``) or answered."""
        with self.lock:
            self.requests += 1
            self.payloads.append(body)
        if self.structured == "reject" and "response_format" in body:
            # what a server that validates its request fields answers to one it does not know
            return 400, {"error": {"message": "response_format: extra fields not permitted"}}
        return 200, self.answer(body)

    def answer(self, body: dict) -> dict:
        content = body["messages"][-1]["content"]
        if body.get("logprobs"):
            answer, document = _tag(content, "answer"), _tag(content, "document")
            if "NOLOGPROBS" in answer:
                return {"choices": [{"message": {"content": "Yes"}, "logprobs": None}]}
            p = 0.9 if answer.lower() in document.lower() else 0.1
            top = [{"token": "Yes", "logprob": math.log(p)}, {"token": "No", "logprob": math.log(1 - p)}]
            return {
                "choices": [{"message": {"content": "Yes"}, "logprobs": {"content": [{"top_logprobs": top}]}}]
            }
        pred = _tag(content, "prediction")
        golds = [g.removeprefix("- ") for g in _tag(content, "gold_answers").splitlines()]
        correct = any(g.lower() in pred.lower() for g in golds)
        verdict = json.dumps({"correct": correct, "reason": "rule"})
        schema = self.structured == "honour" and "response_format" in body
        if "MALFORMED" in pred:  # guided decoding keeps the JSON's shape, but may run out of tokens
            text = '{"correct": ' if schema else '{"correct": maybe, "reason": "unsure"'
        elif "CUT" in pred:
            text = verdict[: verdict.index('"reason"') + len('"reason": "ru')]
        elif "FENCED" in pred and not schema:
            text = f"Let me check.\n```json\n{verdict}\n```\nDone."
        else:
            text = verdict
        return {"choices": [{"message": {"content": text}}]}


@pytest.fixture
def server(serve_json):
    """Start the judge endpoint; yields its :class:`VerdictServer` (``.backend``: a client, structured
    output ``auto``)."""
    state = VerdictServer()
    state.url = serve_json(state.handle)
    state.backend = state.backend_with("auto")
    yield state
    state.backend.close()
