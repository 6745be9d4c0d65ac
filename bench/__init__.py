"""Benchmarks: `python -m bench.<scenario>`."""
