"""Benchmarks: `python -m tests.bench [NAME …]` runs every `bench_*.py` module's `run()` and prints a report.

They measure and report; they never assert a time. Each module documents its own knobs (environment).
"""
