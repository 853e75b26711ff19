"""One module per CLI verb: each `run_*` takes plain values and adapters, and returns data."""
