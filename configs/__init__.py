"""Packaged run configs (configs/<domain>/*.yaml)."""
