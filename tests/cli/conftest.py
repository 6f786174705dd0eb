"""Fixtures for end-to-end CLI runs: an OpenAI-compatible judge endpoint on 127.0.0.1.

The endpoint is a real HTTP server; only its "model" is a rule: for a rubric prompt it finds the
criterion names the prompt asks for (the line after "using these names:") and grades each by a hash
of the prompt, so different responses get different, reproducible scores and preference pairs form.
For a yes/no request (``logprobs``) it answers with top-logprobs from the same hash; for a pairwise
prompt it prefers the response with the larger hash, in either order (a judge without position bias);
for an answer-verdict prompt it replies with a JSON verdict, correct for odd hashes. It ignores a
request's ``response_format`` (like a server that predates structured output) unless told to refuse it
(``refuse_response_format``: HTTP 400, as a server that validates its request fields answers), keeps
every request body (``payloads``), and can be told to answer junk that no score can be read from.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class RuleJudgeServer:
    """A judge endpoint with a counter of requests served."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.lock = threading.Lock()
        #: ``(request text) -> bool``: answer HTTP 500 to the requests it picks (always the same ones)
        self.fail_when = None
        #: an outage: every request's connection is dropped without an answer
        self.down = False
        #: ``(request text) -> bool``: answer prose with no score or verdict to the completions it picks
        self.junk_when = None
        self.junked = 0
        #: answer HTTP 400 to a request that carries ``response_format``
        self.refuse_response_format = False
        self.payloads: list[dict] = []

    @staticmethod
    def reply(body: dict) -> dict:
        content = body["messages"][-1]["content"]
        # a vision request carries parts: the text and the images (as data URIs) both feed the hash
        text = (
            content
            if isinstance(content, str)
            else "\n".join(p.get("text") or p.get("image_url", {}).get("url", "") for p in content)
        )
        h = int(hashlib.sha256(text.encode()).hexdigest(), 16)
        if body.get("logprobs"):
            p = 0.05 + 0.9 * ((h % 1000) / 1000)
            top = [{"token": "Yes", "logprob": math.log(p)}, {"token": "No", "logprob": math.log(1 - p)}]
            return {
                "choices": [
                    {
                        "message": {"content": "Yes"},
                        "logprobs": {"content": [{**top[0], "top_logprobs": top}]},
                    }
                ]
            }
        if '{"correct": true or false' in text:  # the search agent's answer judge: a JSON verdict
            verdict = "true" if h % 2 else "false"
            return {"choices": [{"message": {"content": f'{{"correct": {verdict}, "reason": "by rule"}}'}}]}
        if "<response_a>" in text:  # pairwise: prefer by a hash of the response, whatever the order
            a, b = (text.split(f"<response_{x}>")[1].split("</response_")[0] for x in "ab")
            better = "A" if hashlib.sha256(a.encode()).digest() > hashlib.sha256(b.encode()).digest() else "B"
            return {"choices": [{"message": {"content": f"{better}\nBy rule."}}]}
        names: list[str] = []
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "using these names:" in line and i + 1 < len(lines):
                names = [n.strip() for n in lines[i + 1].split(",") if n.strip()]
        names = names or ["score"]
        graded = "\n".join(f"{n}: {1 + (h >> (4 * i)) % 10}" for i, n in enumerate(names))
        return {"choices": [{"message": {"content": graded + "\nrationale: graded by rule."}}]}


@pytest.fixture()
def rule_judge():
    """Start the endpoint; yields ``(base_url, state)``."""
    state = RuleJudgeServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests += 1
                state.payloads.append(body)
            if state.down:
                self.close_connection = True
                return
            if state.fail_when is not None and state.fail_when(json.dumps(body["messages"], sort_keys=True)):
                with state.lock:
                    state.failed += 1
                data = b'{"error": "judge overloaded"}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if state.refuse_response_format and "response_format" in body:
                data = b'{"error": {"message": "response_format: extra fields not permitted"}}'
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            reply = state.reply(body)
            if (
                state.junk_when is not None
                and not body.get("logprobs")
                and state.junk_when(json.dumps(body["messages"], sort_keys=True))
            ):
                with state.lock:
                    state.junked += 1
                reply = {"choices": [{"message": {"content": "I would rather not say."}}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    server.shutdown()
    server.server_close()


def run_cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``polyrlaif`` in a subprocess and insist on success."""
    res = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args], capture_output=True, text=True, timeout=timeout
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.fixture()
def cli():
    """The ``run_cli`` helper as a fixture (test modules cannot import conftest under importlib mode)."""
    return run_cli
