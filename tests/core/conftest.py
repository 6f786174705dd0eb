"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the judge tests (``server`` fixture).

The server is a plain ``http.server`` in a thread that answers by fixed rules: rubric scores from the
response length, a preference for the longer response (with a configurable position bias: when the
lengths are close it always answers "A"), and yes/no top-logprobs with a known P(yes). It can fail
its first k requests, answer slowly, and it counts requests and the most it had in flight.

Structured output (``structured``): a server may ``ignore`` a request's ``response_format`` (one that
drops fields it does not know), ``honour`` it (answer a JSON object of the schema's shape, as vLLM's
guided decoding would), or ``reject`` it with HTTP 400 (one that refuses fields it does not know). A
response containing ``GARBLE`` gets junk in every mode: prose, or JSON cut short before its first score.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest


class JudgeServer:
    """State and rules of the fake-model server (a real server; only the model is fake)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_first = 0
        self.fail_status = 500
        self.delay_s = 0.0
        self.bias_within = -1  # |len(a) - len(b)| <= this: answer "A" whatever the content
        self.structured = "ignore"  # what a request's response_format gets: ignore, honour or reject
        self.payloads: list[dict] = []
        self.auth: list[str | None] = []
        self.url = ""

    @staticmethod
    def tag(text: str, name: str) -> str:
        """The text between ``<name>`` and ``</name>`` in a judge prompt."""
        m = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, flags=re.DOTALL)
        return m.group(1) if m else ""

    @staticmethod
    def score(response: str) -> int:
        """The rubric rule: the first criterion's score from the response length (the second's is 11 - it)."""
        return max(1, min(10, 1 + len(response) // 10))

    @staticmethod
    def rubric_reply(response: str) -> str:
        """The free-text rubric answer; the tests compute expected scores with :meth:`score`."""
        if "GARBLE" in response:
            return "I would rather not grade this one."
        if "OFFSCALE" in response:
            return "correctness: 42\nclarity: 3\nrationale: too long"
        c = JudgeServer.score(response)
        return f"**Correctness**: {c}/10\n- clarity = {11 - c}\nRationale: judged by length."

    @staticmethod
    def p_yes_rule(response: str) -> float:
        """P(yes) the yes/no rule gives a response."""
        return len(response) / (len(response) + 20)

    @staticmethod
    def structured_reply(response: str, schema: dict) -> str:
        """A JSON answer of the schema's shape, as a server with guided decoding writes it: the integer
        properties in order get the rule's scores (clipped to their range), a string property a
        sentence. GARBLE: the answer ran out of tokens before its first score."""
        if "GARBLE" in response:
            return '{"'
        c = JudgeServer.score(response)
        scores = iter([c, 11 - c])
        out: dict = {}
        for name, prop in schema["properties"].items():
            if prop.get("type") == "integer":
                out[name] = max(prop.get("minimum", 1), min(prop.get("maximum", 10), next(scores, c)))
            else:
                out[name] = "judged by length."
        return json.dumps(out)

    def handle(self, body: dict, request: BaseHTTPRequestHandler) -> tuple:
        """One request: counted (in flight too), delayed, then failed as configured or answered."""
        with self.lock:
            self.requests += 1
            n = self.requests
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.payloads.append(body)
            self.auth.append(request.headers.get("Authorization"))
        try:
            time.sleep(self.delay_s)
            if request.path != "/v1/chat/completions":
                return 404, {"error": "not found"}
            if n <= self.fail_first:
                retry = {"Retry-After": "0.01"} if self.fail_status == 429 else {}
                return self.fail_status, {"error": "try again"}, retry
            if self.structured == "reject" and "response_format" in body:
                # what a server that validates its request fields answers to one it does not know
                return 400, {"error": {"message": "response_format: extra fields not permitted"}}
            return 200, self.answer(body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def answer(self, body: dict) -> dict:
        content = body["messages"][-1]["content"]
        if isinstance(content, list):  # a vision request: the rules read its text parts
            content = "\n".join(p["text"] for p in content if p.get("type") == "text")
        if body.get("logprobs"):
            resp = self.tag(content, "response")
            if "NOLOGPROBS" in resp:
                return {"choices": [{"message": {"content": "Yes"}, "logprobs": None}]}
            p = self.p_yes_rule(resp)
            top = [("Yes", 0.6 * p), (" yes", 0.3 * p), ("No", 0.6 * (1 - p)), (" no", 0.3 * (1 - p))]
            top.append(("Maybe", 0.1))
            top_lp = [{"token": t, "logprob": math.log(q)} for t, q in sorted(top, key=lambda x: -x[1])]
            lp = {"content": [{**top_lp[0], "top_logprobs": top_lp}]}
            return {"choices": [{"message": {"content": top_lp[0]["token"]}, "logprobs": lp}]}
        fmt = body.get("response_format") if self.structured == "honour" else None
        schema = fmt["json_schema"]["schema"] if fmt else None
        if "<response_a>" in content:
            a, b = self.tag(content, "response_a"), self.tag(content, "response_b")
            letter = "A" if abs(len(a) - len(b)) <= self.bias_within or len(a) > len(b) else "B"
            if "GARBLE" in a + b:
                text = '{"' if schema else "I cannot decide between them."
            elif schema:
                text = json.dumps({"winner": letter, "reason": "It is longer."})
            else:
                text = f"{letter}\nIt is longer."
            return {"choices": [{"message": {"content": text}}]}
        resp = self.tag(content, "response")
        text = self.structured_reply(resp, schema) if schema else self.rubric_reply(resp)
        return {"choices": [{"message": {"content": text}}]}


@pytest.fixture
def server(serve_json):
    """Start the server; its :class:`JudgeServer` (``.url`` is the ``/v1`` base URL)."""
    state = JudgeServer()
    state.url = serve_json(state.handle)
    return state
