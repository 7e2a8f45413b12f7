"""Benchmark harness: `python -m bench.live10` runs the Live-10 workload."""
