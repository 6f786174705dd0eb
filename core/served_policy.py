"""A policy sampled through an OpenAI-compatible server (vLLM, SGLang, ``polyrlaif serve``): ``model.serve``.

Each time the run loads a policy (the starting model, then each round's checkpoint), it starts the
server command ``model.serve`` with ``{model}`` (the checkpoint's local directory) and ``{port}`` (a
free port) filled in, waits until ``/v1/models`` answers, samples every conversation through
``/v1/chat/completions`` (``n`` completions a request, the decoding settings and a seed per
conversation), and stops the server when the run closes the policy to train. So the trained weights are
what the next round samples, whatever server serves them::

    model.serve="vllm serve {model} --port {port} --seed 0"
    model.serve="python -m sglang.launch_server --model-path {model} --port {port}"
    model.serve="polyrlaif serve --model {model} --port {port}"      # CPU, no vLLM

Training still loads ``model_path`` with transformers; only sampling (and the evaluations that
generate) goes through the server.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from polyrlaif.core.log import get_logger
from polyrlaif.core.models import resolve_model_path

__all__ = ["ServedPolicy"]

log = get_logger(__name__)


def _stop_group(pid: int) -> None:
    """SIGTERM a server's process group if it is still there (at exit, or when the policy is freed)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedPolicy:
    """:class:`~polyrlaif.core.protocols.Policy` over a server this object starts and stops.

    Args:
        name_or_path: the checkpoint (alias, hub id or local directory); ``{model}`` in the command is its
            resolved local directory.
        command: the server command template (``{model}``, ``{port}``).
        start_timeout_s: how long to wait for the server to answer ``/v1/models``.
        request_timeout_s: per request.
        concurrency: requests in flight at once.
        cache_dir: where converted aliases live.

    Raises:
        RuntimeError: the server exited or did not answer in time, with the end of its output.
    """

    def __init__(
        self,
        name_or_path: str,
        command: str,
        *,
        start_timeout_s: float = 900.0,
        request_timeout_s: float = 600.0,
        concurrency: int = 8,
        cache_dir: str | None = None,
    ) -> None:
        import httpx

        self.model_id = name_or_path
        self.model_path = resolve_model_path(name_or_path, cache_dir)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.concurrency = max(1, concurrency)
        self.stats: dict[str, float] = {"sequences": 0, "requests": 0, "seconds": 0.0}
        argv = [a.format(model=self.model_path, port=self.port) for a in shlex.split(command)]
        self._log = tempfile.TemporaryFile(mode="w+b")
        log.info(f"starting the policy server: {' '.join(argv)}")
        self._proc: subprocess.Popen | None = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        # its own session keeps a Ctrl-C meant for the run from reaching it mid-request; so that an
        # interrupted or crashed run leaves no server behind, its group is stopped when Python exits
        weakref.finalize(self, _stop_group, self._proc.pid)
        self._client = httpx.Client(timeout=request_timeout_s)
        self.served_name = self._wait(start_timeout_s)

    def _tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def _wait(self, timeout_s: float) -> str:
        """The served model id, once ``/v1/models`` answers."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                code, out = self._proc.returncode, self._tail()
                self.close()
                raise RuntimeError(f"the policy server exited with code {code} before answering:\n{out}")
            try:
                data = self._client.get(f"{self.base_url}/models", timeout=5).json()["data"]
                return str(data[0]["id"])
            except (httpx.HTTPError, KeyError, IndexError, ValueError):
                time.sleep(0.5)
        out = self._tail()
        self.close()
        raise RuntimeError(f"the policy server did not answer within {timeout_s:.0f} s:\n{out}")

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        """``n`` completions for each conversation, in order; conversation ``i`` is sampled with seed
        ``seed + i``, so a rerun on the same server asks for the same samples.

        Raises:
            RuntimeError: a request failed (status and the server's message).
        """
        from tqdm.auto import tqdm

        if self._proc is None:
            raise RuntimeError("the policy server was stopped (close); load the policy again")

        def ask(i: int, conversation: list[dict[str, str]] | str) -> list[str]:
            messages = (
                [{"role": "user", "content": conversation}] if isinstance(conversation, str) else conversation
            )
            body = {"model": self.served_name, "messages": messages, "n": n, "temperature": temperature,
                    "top_p": top_p, "max_tokens": max_new_tokens, "seed": seed + i}  # fmt: skip
            res = self._client.post(f"{self.base_url}/chat/completions", json=body)
            if res.status_code != 200:
                raise RuntimeError(f"the policy server answered {res.status_code}: {res.text[:500]}")
            choices = sorted(res.json()["choices"], key=lambda c: c.get("index", 0))
            return [c["message"]["content"] or "" for c in choices]

        start = time.perf_counter()
        convs = list(conversations)
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(ask, i, c) for i, c in enumerate(convs)]
            out = [f.result() for f in tqdm(futures, desc="generate (server)", unit="prompt", leave=False)]
        self.stats["sequences"] += n * len(convs)
        self.stats["requests"] += len(convs)
        self.stats["seconds"] += time.perf_counter() - start
        return out

    def close(self) -> None:
        """Stop the server (its whole process group) and free the port."""
        if self._proc is not None:
            if self._proc.poll() is None:
                os.killpg(self._proc.pid, signal.SIGTERM)
                try:
                    self._proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait()
            self._proc = None
            self._client.close()
            self._log.close()
