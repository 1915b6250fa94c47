"""Benchmarks that print their figures (`python -m bench.http`); see bench/README.md."""
