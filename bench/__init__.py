"""Benchmarks: each part starts its own servers on 127.0.0.1 and prints one JSON line."""
