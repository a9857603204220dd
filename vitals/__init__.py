"""Vitals: machine-learning customer health (settings, CLI and the end-to-end demo)."""
