"""``polyrlaif serve``: a small OpenAI-compatible chat server over a transformers causal LM, for CPUs.

    polyrlaif serve --model smollm2-135m-instruct --port 8000

It answers ``GET /v1/models`` and ``POST /v1/chat/completions`` (``messages``, ``n``, ``temperature``,
``top_p``, ``max_tokens``, ``seed``) with the project's own batched :class:`CausalLMPolicy`, one request
at a time. It is what a machine without vLLM can serve a judge or a policy with (``model.serve``,
``judge.base_url``); with a GPU, serve with vLLM or SGLang instead, which speak the same API.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from polyrlaif.core.log import get_logger

__all__ = ["make_server", "serve"]

log = get_logger(__name__)


def _completion(policy: Any, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """One chat completion response (OpenAI's schema) for a request body."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list of {role, content}")
    n = int(body.get("n") or 1)
    texts = policy.generate(
        [messages],
        n=n,
        temperature=float(body.get("temperature", 1.0) or 0.0),
        top_p=float(body.get("top_p", 1.0) or 1.0),
        max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
        seed=int(body.get("seed") or 0),
    )[0]
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
        for i, t in enumerate(texts)
    ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": choices,
    }


def make_server(policy: Any, name: str, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server answering for ``policy`` under the model id ``name`` (not yet serving)."""
    lock = threading.Lock()  # the model answers one request at a time

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with lock:
                    self._send(200, _completion(policy, name, body))
            except (ValueError, TypeError, KeyError) as exc:
                self._send(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})

    return ThreadingHTTPServer((host, port), Handler)


def serve(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    batch_size: int = 8,
) -> None:
    """Load ``model`` (alias, hub id or local directory) and answer until interrupted."""
    from polyrlaif.core.policy import CausalLMPolicy

    policy = CausalLMPolicy(model, dtype=dtype, device=device, batch_size=batch_size)
    server = make_server(policy, name or model, host, port)
    log.info(f"serving {policy.model_path} as {name or model!r} at http://{host}:{port}/v1")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
