"""Linux system calls the sandbox worker needs (through ctypes), its constants, and its framing.

Part of the sandbox worker (:mod:`.sandbox_worker`), which imports it as a top-level module: the
worker runs as a script with the standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import struct

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_OPTS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
    "strictatime": 1 << 24,
}
HARMLESS_MOUNTS = ("/proc", "/sys", "/dev")
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_CLONE = {"x86_64": 56, "aarch64": 220}
NOBODY = 65534
_LIBC: dict[str, ctypes.CDLL] = {}


def libc(holding_gil: bool = False) -> ctypes.CDLL:
    """libc through ctypes; ``holding_gil`` gives a PyDLL handle, whose calls keep the GIL held."""
    key = "py" if holding_gil else "c"
    if key not in _LIBC:
        lib = (ctypes.PyDLL if holding_gil else ctypes.CDLL)(None, use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        lib.syscall.restype = ctypes.c_long
        _LIBC[key] = lib
    return _LIBC[key]


def check(ret: int, what: str) -> None:
    """Raise OSError (with errno) if a libc call returned non-zero."""
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """unshare(2)."""
    check(libc().unshare(flags), f"unshare(0x{flags:x})")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2)."""
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    check(libc().mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def prctl(option: int, arg: int) -> None:
    """prctl(2) with one argument."""
    check(libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


# ---------------------------------------------------------------- framing


def read_frame(fd: int) -> dict | None:
    """Read one frame from ``fd``; ``None`` at end of file."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def write_frame(fd: int, obj: dict) -> None:
    """Write one frame to ``fd``."""
    body = json.dumps(obj).encode()
    data = memoryview(struct.pack(">I", len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def clone(flags: int) -> int:
    """fork(2) with namespace flags: the child starts in new PID and mount namespaces.

    Goes through the raw syscall (glibc's ``fork`` takes no flags) with CPython's own fork hooks
    around it, as ``os.fork`` does; the libc handle is a PyDLL so the GIL stays held, as in ``os.fork``.
    """
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    zero = ctypes.c_ulong(0)
    number = ctypes.c_long(SYS_CLONE[platform.machine()])
    flags = ctypes.c_ulong(flags | signal.SIGCHLD)
    pid = libc(holding_gil=True).syscall(number, flags, zero, zero, zero, zero)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid
