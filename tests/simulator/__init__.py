"""Simulator fidelity tests (a package: its test module names must not clash with tests/e2e_local)."""
