"""One logger for every stage: ``logging`` under the ``polyrlaif`` name, one format, rich on a terminal.

Modules take ``log = get_logger(__name__)``; the command line calls :func:`setup_logging` once. Every
line reads ``[polyrlaif HH:MM:SS] <stage>: message`` whichever stage wrote it, so a run's log is one
stream that a reader (or ``grep``) can follow. Progress bars stay tqdm's.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["get_logger", "setup_logging"]

ROOT = "polyrlaif"
_FORMAT = "[polyrlaif %(asctime)s] %(stage)s%(message)s"


class _StageFilter(logging.Filter):
    """Adds ``stage``: the logger's last name part (``polyrlaif.core.recipes.online`` -> ``online: ``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name.rsplit(".", 1)[-1]
        record.stage = "" if name in (ROOT, "__main__") else f"{name}: "
        return True


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name`` (``polyrlaif.domains.code.build`` and the like)."""
    return logging.getLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


def setup_logging(level: int = logging.INFO) -> None:
    """Send ``polyrlaif`` records to standard output in the one format (idempotent).

    Plain lines, flushed at once, so a log piped to a file reads the same as on a terminal.
    """
    root = logging.getLogger(ROOT)
    root.setLevel(level)
    if any(getattr(h, "_polyrlaif", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    handler.addFilter(_StageFilter())
    handler._polyrlaif = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.propagate = False
