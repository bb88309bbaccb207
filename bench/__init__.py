"""Benchmarks: each prints a table and compares Confidant with a baseline measured in the same run.

Run from the project root, e.g. `python -m bench.ingest --repeat 3`. Outputs are saved under bench/results/.
"""
