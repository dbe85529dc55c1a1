"""Benchmarks for lanner, run on demand (see ``benchmarks/README.md``)."""
