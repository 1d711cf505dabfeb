"""Shared fixtures: every test gets its own runtime folder and a migrated SQLite database."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from satark.db import session as db_session
from satark.db.migrate import upgrade
from satark.deployment import get_deployment_settings
from satark.offices import load_offices
from satark.settings import get_receipt_secret, get_settings
from satark.taxonomy import load_categories
from tests.support.connector import ConnectorHarness, isolated_system, scripted_bot


def clear_caches() -> None:
    for cached in (get_settings, get_receipt_secret, db_session.get_engine, db_session.get_session_factory,
                   load_offices, load_categories, get_deployment_settings):
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


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """An isolated runtime (folder, database, keys) for a module of in-process connector tests."""
    with isolated_system(tmp_path_factory.mktemp("connector")) as folder:
        yield folder


@pytest.fixture(scope="module")
def harness(system):
    """The real connector on a loopback server with a scripted bot; modules may override it."""
    harness = ConnectorHarness(bot=scripted_bot).start()
    yield harness
    harness.stop()


POSTGRES_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@pytest.fixture
def postgres(runtime, monkeypatch):
    """A fresh, migrated PostgreSQL database (127.0.0.1:5432) as DATABASE_URL; skipped, saying why,
    when no server is reachable."""
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.skip(f"no PostgreSQL server reachable at 127.0.0.1:5432 as user postgres ({error})".strip())
    name = f"satark_test_{uuid.uuid4().hex[:8]}"
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("DATABASE_URL", f"{POSTGRES_SERVER}/{name}")
    clear_caches()
    upgrade()
    yield
    db_session.get_engine().dispose()
    admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()
