"""Shared fixtures: a tiny Llama-architecture chat model, built from a config in about a second.

Nothing is downloaded. The tokenizer is a byte-level BPE trained in code on a few lines of text (so
any string round-trips), with ChatML special tokens laid out like SmolLM2's (``<|endoftext|>`` = 0,
``<|im_start|>`` = 1, ``<|im_end|>`` = 2) and a ChatML chat template. The model is a 2-layer
``LlamaForCausalLM`` with hidden size 32 and random weights from a fixed seed.

Also: ``serve_json``, real HTTP servers whose "model" is a Python function (the fake judge endpoints),
and ``one_thread``, for modules that train tiny models.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "Write a Python function that returns the sum of two numbers.",
    "def add(a, b):\n    return a + b\n",
    "def is_even(n: int) -> bool:\n    return n % 2 == 0\n",
    "for i in range(10):\n    print(i)\n",
    "import math\nprint(math.sqrt(16))\n",
    "You are a helpful assistant. Answer briefly and correctly.",
    "A good answer is short, correct and polite.",
    "Sure! Here is the code you asked for.",
]


def build_tiny_tokenizer():
    """A byte-level BPE tokenizer (vocab about 400) wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        model_max_length=512,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_lm(path: str | Path, seed: int = 0) -> str:
    """Write a tiny random ``LlamaForCausalLM`` with its tokenizer to ``path``; return the path."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        # Large random weights, so that greedy continuations differ from prompt to prompt; at the
        # usual 0.02 every prompt decodes to the same run of newlines and batching tests see nothing.
        initializer_range=0.3,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def _worlds_cache(tmp_path_factory) -> Iterator[None]:
    """Synthetic worlds built without a ``domain.world_dir`` go to a cache of this test session's own
    (``POLYRLAIF_WORLDS``, which the CLI subprocesses inherit), not the user's ``~/.cache/polyrlaif``."""
    import os

    before = os.environ.get("POLYRLAIF_WORLDS")
    os.environ["POLYRLAIF_WORLDS"] = str(tmp_path_factory.mktemp("worlds"))
    yield
    if before is None:
        os.environ.pop("POLYRLAIF_WORLDS", None)
    else:
        os.environ["POLYRLAIF_WORLDS"] = before


@pytest.fixture(scope="session")
def tiny_lm_path(tmp_path_factory) -> str:
    """Path of a tiny chat causal LM directory, loadable with ``AutoModelForCausalLM.from_pretrained``."""
    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm"))


#: A fake endpoint's answer to one POST: the request's JSON body and its handler (``.path``, ``.headers``)
#: in; ``(status, JSON payload)`` or ``(status, payload, extra headers)`` out.
JsonReply = Callable[[Any, BaseHTTPRequestHandler], tuple]


@pytest.fixture()
def serve_json() -> Iterator[Callable[[JsonReply], str]]:
    """Start real HTTP servers on 127.0.0.1 whose "model" is a Python function, for fake OpenAI-compatible
    endpoints: ``serve_json(reply)`` starts one and returns its ``/v1`` base URL. Every POST's JSON body
    goes to ``reply``, which may sleep (the server is threaded); its payload goes back as JSON. A client
    that gave up (a timeout test) is no error. The servers stop when the test ends."""
    servers: list[ThreadingHTTPServer] = []

    def start(reply: JsonReply) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, out, *headers = reply(body, self)
                data = json.dumps(out).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers[0] if headers else {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        servers.append(httpd)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def one_thread(monkeypatch):
    """One CPU thread for the test (``OMP_NUM_THREADS=1`` too, which the trainers' ``set_cpu_threads``
    honours): tiny models gain nothing from more, and on a shared two-core machine they lose a lot.
    Use it for a whole module with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def nobody():
    """How to run Python as uid 65534 (root drops to it with setpriv(1)): ``nobody.python`` is the argv
    prefix of an interpreter of our version it can run (the venv's may live under /root), and
    ``nobody.site`` the site-packages folder to add so it finds polyrlaif. Skips where that is impossible."""
    import os
    import shutil
    import subprocess
    import sys
    import sysconfig
    from types import SimpleNamespace

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to become an unprivileged user")
    # through sh: setpriv itself still holds root's capabilities while it execs
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", 'exec "$0" "$@"']
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (sys.executable, shutil.which(version), f"/usr/bin/{version}"):
        if exe and os.path.exists(exe):
            if subprocess.run([*drop, exe, "-c", ""], capture_output=True, cwd="/").returncode == 0:
                return SimpleNamespace(python=[*drop, exe], site=sysconfig.get_paths()["purelib"])
    pytest.skip("no Python interpreter runnable by uid 65534")
