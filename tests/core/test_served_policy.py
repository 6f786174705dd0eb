"""``model.serve``: a policy sampled through an OpenAI-compatible server it starts (here ``polyrlaif serve``
on the tiny chat model, a real server process on a real port) gives the completions the same model gives
in this process for the same seeds; a server that dies is an error with its output; ``polyrlaif serve``
answers a bad request with 400."""

from __future__ import annotations

import sys

import httpx
import pytest

from polyrlaif.core.policy import CAUSAL_LM_ADAPTER, CausalLMPolicy
from polyrlaif.core.serve import make_server
from polyrlaif.core.served_policy import ServedPolicy

SERVE = f"{sys.executable} -m polyrlaif.core.cli serve --model {{model}} --port {{port}} --dtype float32"

CONVS = [
    [{"role": "user", "content": "Write a function that adds two numbers."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Reverse a list."}],
    "Sort a list of integers.",
]


def test_a_served_policy_samples_what_the_model_samples_here(tiny_lm_path):
    here = CausalLMPolicy(tiny_lm_path, dtype="float32", batch_size=1)
    want = [here.generate([c], n=2, temperature=1.0, top_p=0.9, max_new_tokens=12, seed=7 + i)[0]
            for i, c in enumerate(CONVS)]  # fmt: skip
    greedy = here.generate(CONVS, n=1, temperature=0.0, max_new_tokens=12)
    served = CAUSAL_LM_ADAPTER.load(tiny_lm_path, serve=SERVE, serve_timeout_s=300)
    try:
        assert isinstance(served, ServedPolicy) and served.model_path == here.model_path
        got = served.generate(CONVS, n=2, temperature=1.0, top_p=0.9, max_new_tokens=12, seed=7)
        assert got == want and len({t for row in got for t in row}) > 1
        assert served.generate(CONVS, n=1, temperature=0.0, max_new_tokens=12) == greedy
        assert served.stats["sequences"] == 9 and served.stats["requests"] == 6
        pid = served._proc.pid
    finally:
        served.close()
    with pytest.raises(ProcessLookupError):  # the server is gone with its process group
        import os

        os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="stopped"):
        served.generate(CONVS, n=1)


def test_a_server_that_exits_is_an_error_with_its_output(tiny_lm_path):
    command = f"{sys.executable} -c \"import sys; print('no GPU here'); sys.exit(3)\" {{model}} {{port}}"
    with pytest.raises(RuntimeError, match=r"(?s)exited with code 3.*no GPU here"):
        ServedPolicy(tiny_lm_path, command, start_timeout_s=60)


def test_the_server_refuses_a_request_without_messages(tiny_lm_path):
    import threading

    server = make_server(CausalLMPolicy(tiny_lm_path, dtype="float32"), "tiny", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        assert httpx.get(f"{base}/models").json()["data"][0]["id"] == "tiny"
        res = httpx.post(f"{base}/chat/completions", json={"model": "tiny", "messages": []})
        assert res.status_code == 400 and "messages" in res.json()["error"]["message"]
        ok = httpx.post(f"{base}/chat/completions", json={"messages": CONVS[0], "n": 2, "max_tokens": 4})
        assert ok.status_code == 200 and len(ok.json()["choices"]) == 2
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_that_dies_leaves_no_server_behind(tiny_lm_path):
    """The server runs in its own session (a Ctrl-C for the run does not reach it mid-request), so the
    policy stops its group when Python exits, even if the run never closed it."""
    import os
    import subprocess
    import time

    script = (
        "import sys; from polyrlaif.core.served_policy import ServedPolicy; "
        f"p = ServedPolicy({tiny_lm_path!r}, {SERVE!r}, start_timeout_s=120); "
        "print(p._proc.pid, flush=True); sys.exit(1)"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    pid = int(res.stdout.split()[-1])
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the server {pid} outlived the run")
