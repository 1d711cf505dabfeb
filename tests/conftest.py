"""Shared fixtures: every test gets its own runtime folder and a migrated SQLite database."""

from __future__ import annotations

import pytest

from satark.db import session as db_session
from satark.db.migrate import upgrade
from satark.offices import load_offices
from satark.settings import get_receipt_secret, get_settings
from satark.taxonomy import load_categories


def clear_caches() -> None:
    for cached in (get_settings, get_receipt_secret, db_session.get_engine, db_session.get_session_factory,
                   load_offices, load_categories):
        cached.cache_clear()


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A fresh runtime folder and database, configured through environment variables only."""
    monkeypatch.setenv("SATARK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'satark.db'}")
    monkeypatch.delenv("OFFICES_FILE", raising=False)
    monkeypatch.delenv("RECEIPT_SECRET", raising=False)
    monkeypatch.setenv("SATARK_DEV_MODE", "true")
    clear_caches()
    upgrade()
    yield tmp_path / "var"
    db_session.get_engine().dispose()
    clear_caches()
