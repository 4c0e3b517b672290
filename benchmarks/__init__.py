"""Benchmarks: scripts that print accuracy and speed figures (run as python benchmarks/NAME.py)."""
