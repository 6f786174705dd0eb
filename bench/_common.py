"""Helpers shared by the benchmark scripts: peak memory of a block, and this machine's matmul rate.

The scripts run as ``python bench/<name>.py``, which puts ``bench/`` on ``sys.path``, so they import
this module as ``from _common import PeakRSS``.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["PeakRSS", "matmul_gflops"]


class PeakRSS:
    """Peak resident set size of this process while the block runs, above the size at its start.

    A background thread polls ``/proc/self/statm`` (Linux only) every ``interval_s`` seconds. On entry
    the C heap's free memory is returned to the system, so memory an earlier run freed but kept counts
    again when this run takes it.

    Args:
        interval_s: polling interval in seconds.

    Attributes:
        peak_mb: the largest growth over the size at entry seen so far, in MiB.
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0

    @staticmethod
    def _rss_mb() -> float:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self) -> PeakRSS:
        _trim_heap()  # give back memory freed by an earlier run, or this run would reuse it unseen
        self._base = self._rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._rss_mb() - self._base)
            time.sleep(self.interval_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb() - self._base)


def _trim_heap() -> None:
    """Return the C heap's free memory to the system (glibc ``malloc_trim``; elsewhere nothing)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc
        pass


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """This process's float32 matmul rate (best of ``repeats``), in GFLOP/s.

    Args:
        size: side of the square matrices.
        repeats: timed multiplications after one untimed warm-up.
    """
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9
