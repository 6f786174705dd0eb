"""The test fixture configs: ``tests/configs/<domain>/<name>.yaml``, runs on tiny models that expect the
tests' own judge endpoints, kept out of the packaged ``configs/`` (which a user runs as they are)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIGS", "tiny_config"]

CONFIGS = Path(__file__).resolve().parent / "configs"


def tiny_config(domain: str, name: str = "tiny") -> str:
    """The path of our fixture ``name`` for ``domain``, or ``<domain>/<name>`` (a config a third-party
    domain ships in its own package) when we have none."""
    path = CONFIGS / domain / f"{name}.yaml"
    return str(path) if path.is_file() else f"{domain}/{name}"
