"""The parts of scripts/bench.py, one module per kind of measurement, and what they share (corpus, timing)."""
