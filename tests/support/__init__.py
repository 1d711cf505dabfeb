"""Helpers that start real servers for tests (no mocks)."""
