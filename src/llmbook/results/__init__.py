"""Benchmark results shipped with the book (JSON written by ``benchmarks/*.py --out``)."""
