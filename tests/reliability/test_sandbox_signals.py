"""Signals to a program's process group, session or every process (``kill(0)``, ``killpg``, ``-1``)
reach nothing but the program itself and its children (reliability issue, section 1).

Each attack runs beside a neighbour that sleeps, then passes: the neighbour must still pass, the
sandbox's workers must be the same processes as before, and (as a non-root user, in a user
namespace) the process running the sandbox must survive.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from polyrlaif.domains.code.prompts import build_program

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
GOOD = "    return a + b\n"
NEIGHBOUR = build_program(PROMPT, GOOD + "import time\ntime.sleep(1.5)\n", TEST, "add")
ATTACKS = {
    "kill0_kill": "os.kill(0, signal.SIGKILL)",
    "killpg_stop": "os.killpg(os.getpgrp(), signal.SIGSTOP)",
    "minus1_kill": "os.kill(-1, signal.SIGKILL)",
    "minus1_stop": "os.kill(-1, signal.SIGSTOP)",
    "session_kill": "os.killpg(os.getsid(0), signal.SIGKILL)",
}


def attacker(call: str) -> str:
    """Waits until the neighbour runs, then signals; ignores refusals and carries on to the tests."""
    top = f"import os, signal, time\ntime.sleep(0.3)\ntry:\n    {call}\nexcept OSError:\n    pass\n"
    return build_program(PROMPT, GOOD + top, TEST, "add")


@pytest.mark.parametrize("name", ATTACKS)
def test_group_signals_reach_only_the_program(sandbox, name):
    workers = sorted(w.proc.pid for w in sandbox._workers)
    neighbour, attack = sandbox.run([NEIGHBOUR, attacker(ATTACKS[name])], timeout_s=4.0)
    assert (neighbour.status, neighbour.detail) == ("passed", "")
    assert attack.status != "sandbox_error", attack.detail
    assert sorted(w.proc.pid for w in sandbox._workers) == workers  # no worker died and was replaced


def test_group_signals_in_user_namespace_mode_spare_the_caller(nobody):
    site = nobody.site
    programs = [p for call in ATTACKS.values() for p in (NEIGHBOUR, attacker(call))]
    script = (
        f"import site\nsite.addsitedir({site!r})\n"
        "from polyrlaif.domains.code.sandbox import Sandbox\n"
        "with Sandbox(workers=2) as sb:\n"
        f"    results = sb.run({programs!r}, timeout_s=4.0)\n"
        "    print(sb.mode, [r.status for r in results[::2]])\n"
    )
    proc = subprocess.run(
        [*nobody.python, "-c", script],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"},
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == f"userns {['passed'] * len(ATTACKS)}"
