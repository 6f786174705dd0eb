"""Fixtures for the reliability tests: sandboxes with every isolation this machine offers."""

from __future__ import annotations

import pytest

from polyrlaif.domains.code.sandbox import IsolationUnavailable, Sandbox


@pytest.fixture(scope="module")
def sandbox():
    """Two workers, 256 MiB per program, the strongest isolation the kernel allows."""
    try:
        sb = Sandbox(workers=2, timeout_s=5.0, memory_mb=256).start()
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    yield sb
    sb.close()
