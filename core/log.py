"""One logger for every stage: ``logging`` under the ``polyrlaif`` name, one format, rich on a terminal.

Modules take ``log = get_logger(__name__)``; the command line calls :func:`setup_logging` once. Every
line reads ``[polyrlaif HH:MM:SS] <stage>: message`` whichever stage wrote it, so a run's log is one
stream that a reader (or ``grep``) can follow. Progress bars stay tqdm's.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["get_logger", "log_file", "setup_logging"]

ROOT = "polyrlaif"
_FORMAT = "[polyrlaif %(asctime)s] %(stage)s%(message)s"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (it may be replaced, as by pytest)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


class _StageFilter(logging.Filter):
    """Adds ``stage``, the module's name under the package: ``polyrlaif.domains.code.build`` ->
    ``code.build: ``, ``polyrlaif.core.trainers.fast_dpo`` -> ``trainers.fast_dpo: ``."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name.removeprefix(f"{ROOT}.")
        for part in ("core.", "domains."):
            name = name.removeprefix(part)
        record.stage = "" if name in (ROOT, "__main__") else f"{name}: "
        return True


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name`` (``polyrlaif.domains.code.build`` and the like)."""
    return logging.getLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


def setup_logging(level: int = logging.INFO) -> None:
    """Send ``polyrlaif`` records to standard error in the one format (idempotent).

    Standard error, like the progress bars: standard output carries results (summary tables, ``verify``'s
    JSON counts), so it stays clean for a pipe. Plain lines, so a log in a file reads as on a terminal.
    """
    root = logging.getLogger(ROOT)
    root.setLevel(logging.DEBUG)  # the handlers choose: the terminal ``level``, a run's log file all
    if any(getattr(h, "_polyrlaif", False) for h in root.handlers):
        return
    handler = _StderrHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    handler.addFilter(_StageFilter())
    handler._polyrlaif = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    _guard_the_root_logger()


class _NotOurs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == ROOT or record.name.startswith(f"{ROOT}."))


def _guard_the_root_logger() -> None:
    """Give the root logger a handler of its own before a library's bare ``logging.info(...)`` does: that
    call runs ``logging.basicConfig()`` on a root without handlers (open_clip does it when it loads a
    model), and every ``polyrlaif`` record would then print twice, once more as ``INFO:polyrlaif...``. Ours
    prints other libraries' warnings as Python's last-resort handler would, and never our records."""
    top = logging.getLogger()
    if top.handlers:
        return
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    handler.addFilter(_NotOurs())
    top.addHandler(handler)


@contextmanager
def log_file(path: str | Path) -> Iterator[None]:
    """Also write every ``polyrlaif`` record, debug level included (TRL's per-step rows), to ``path``,
    appended, in the same format, while the block runs. The file is opened at its first record, so a
    command refused before any work leaves no file (nor its folder) behind."""

    class _LazyFile(logging.FileHandler):
        def _open(self):  # noqa: ANN202 - the folder is made with the file
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            return super()._open()

    handler = _LazyFile(path, mode="a", encoding="utf-8", delay=True)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    handler.addFilter(_StageFilter())
    root = logging.getLogger(ROOT)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
