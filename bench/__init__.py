"""Benchmarks (not tests): real processes on loopback, figures printed beside an in-run baseline."""
