"""Benchmarks: each prints a table and writes bench/results/<name>.json. Run as `python -m bench.<name>`."""
