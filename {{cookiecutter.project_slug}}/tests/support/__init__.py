"""Helpers shared by the test modules: servers on loopback, test-only URLconfs."""
