"""A program's total memory and process count, which RLIMIT_AS and RLIMIT_NPROC do not see
(reliability issue, section 1).

memfd, System V shared memory and many forked children each stay under their own address-space
limit while the sum grows without bound; a fork bomb used to take the per-uid process limit from the
program beside it. With a cgroup each program has one memory budget and one process budget; where
the machine offers none, the sandbox says so once at start-up. Afterwards the host is checked: no
leftover segments, no leftover cgroups.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from polyrlaif.domains.code.prompts import build_program
from polyrlaif.domains.code.sandbox import IsolationUnavailable, Sandbox

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
GOOD = "    return a + b\n"
MIB = 2**20

#: 40 memfds of 15 MiB each (each under the 16 MiB file-size limit): 600 MiB, none of it mapped.
MEMFD = """
import os
fds = []
for i in range(40):
    fd = os.memfd_create(f"m{i}")
    for _ in range(15):
        os.write(fd, b"x" * 2 ** 20)
    fds.append(fd)
"""
#: Ten System V segments of 60 MiB, each filled through a mapping that is then dropped: 600 MiB
#: that outlive every process unless their IPC namespace dies with the program.
SYSV = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
size = 60 * 2 ** 20
for _ in range(10):
    seg = libc.shmget(0, ctypes.c_size_t(size), 0o1600)
    assert seg >= 0, ctypes.get_errno()
    addr = libc.shmat(seg, None, 0)
    ctypes.memset(addr, 1, size)
    libc.shmdt(addr)
"""
#: Six children of 120 MiB each, all alive at once; the parent waits for them and carries on.
FORKS = """
import os, time
kids = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        block = bytearray(120 * 2 ** 20)
        time.sleep(1.0)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""
SEGMENTS = "segments = open('/proc/sysvipc/shm').read().splitlines()[1:]\nassert segments == [], segments\n"


def with_top_level(code: str) -> str:
    return build_program(PROMPT, GOOD + code, TEST, "add")


def needs_cgroup(sb: Sandbox) -> None:
    if sb.cgroup is None:
        pytest.skip(f"no cgroup here: {sb.cgroup_notice}")


@pytest.mark.parametrize("attack", ["MEMFD", "SYSV", "FORKS"])
def test_total_memory_of_a_program_is_limited(attack):
    # One worker, so the program after the attack runs in the same worker and sees what it left.
    try:
        sb = Sandbox(workers=1, timeout_s=20.0, memory_mb=256).start()
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    with sb:
        needs_cgroup(sb)
        hit, after = sb.run([with_top_level(globals()[attack]), with_top_level(SEGMENTS)])
        assert hit.status == "oom", (hit.status, hit.detail, hit.output[-500:])
        assert "256 MiB" in hit.detail
        assert after.passed, after.output  # nothing left behind for the next program
        base = sb.cgroup_dirs
        assert base and all(Path(d).is_dir() for d in base)
    assert not any(Path(d).exists() for d in base), "the sandbox's cgroups outlived it"


def test_a_fork_bomb_leaves_the_neighbour_its_own_processes(sandbox):
    needs_cgroup(sandbox)
    bomb = with_top_level(
        "import os, time\nfor _ in range(10000):\n    try:\n        os.fork() or time.sleep(30)\n"
        "    except OSError:\n        break\ntime.sleep(3)\n"
    )
    neighbour = with_top_level(
        "import os, time\ntime.sleep(1.0)\nkids = []\nfor _ in range(20):\n    pid = os.fork()\n"
        "    if pid == 0:\n        time.sleep(0.5)\n        os._exit(0)\n    kids.append(pid)\n"
        "for pid in kids:\n    os.waitpid(pid, 0)\n"
    )
    bombed, beside = sandbox.run([bomb, neighbour], timeout_s=4.5)
    assert (beside.status, beside.detail) == ("passed", "")
    assert bombed.status in ("passed", "timeout")


def test_without_a_cgroup_the_sandbox_says_so_once(nobody):
    site = nobody.site
    script = (
        f"import site\nsite.addsitedir({site!r})\n"
        "from polyrlaif.domains.code.sandbox import Sandbox\n"
        "for _ in range(2):\n"
        "    with Sandbox(workers=2) as sb:\n"
        "        print(sb.mode, sb.cgroup, sb.run(['pass'])[0].status)\n"
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
    assert proc.stdout.splitlines() == ["userns None passed"] * 2
    notices = [line for line in proc.stderr.splitlines() if "no cgroup" in line]
    assert len(notices) == 1, proc.stderr
    notice = notices[0].lower()
    assert "not enforced" in notice and "total memory" in notice and "process count" in notice
