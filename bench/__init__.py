"""Kru's benchmarks: real servers on loopback driven by wrk; run ``python -m bench``."""
