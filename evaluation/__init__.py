"""Benchmark metrics and evaluation helpers shared by every domain."""
