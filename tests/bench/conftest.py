"""Load a ``bench/`` script as a module, the way ``python bench/<name>.py`` runs it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(autouse=True)
def _logging_back_on():
    """The scripts silence warnings process-wide (``logging.disable``), as a command should; a test of
    them must not leave the rest of the suite without its log records."""
    yield
    import logging

    logging.disable(logging.NOTSET)


@pytest.fixture
def bench_script(monkeypatch):
    """``bench_script("sampling")`` -> the module of ``bench/sampling.py``."""
    # the scripts run as ``python bench/x.py``: bench/ is on sys.path for their ``_common`` import
    monkeypatch.syspath_prepend(str(BENCH))

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)  # as a script's __main__ is there
        spec.loader.exec_module(module)
        return module

    return load
