"""Benchmarks and the local stub server they (and the engine tests) run against."""
