"""Engine and session factory, created on first use from `DATABASE_URL` (never at import time)."""

from __future__ import annotations

import os
import weakref
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from satark.settings import get_settings

BUSY_TIMEOUT = "PRAGMA busy_timeout=10000"  # wait up to 10 s for another process's write lock


def write_ahead_log(dbapi_connection: Any) -> None:
    """WAL and the busy timeout on a new SQLite connection: readers never wait for a writer, and a
    writer waits for another one instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(BUSY_TIMEOUT)
    cursor.close()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=ON")
    write_ahead_log(dbapi_connection)


def _forget_inherited_connections() -> None:
    """A forked process (Sanic's workers) must not share its parent's pooled connections."""
    for engine in _ENGINES:
        engine.dispose(close=False)


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
os.register_at_fork(after_in_child=_forget_inherited_connections)


def pooled_sqlite_engine(url: str | URL, **options: Any) -> Engine:
    """An engine on a SQLite file that keeps its connections: SQLAlchemy 1.4 opens a new one (and
    runs the pragmas) for every transaction of a file database. Forked children drop inherited ones."""
    engine = create_engine(url, poolclass=QueuePool, connect_args={"check_same_thread": False}, **options)
    _ENGINES.add(engine)
    return engine


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            engine = pooled_sqlite_engine(url, future=True)
        else:
            engine = create_engine(url, future=True, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, future=True, pool_pre_ping=True)
    _ENGINES.add(engine)  # psycopg2 connections must not cross a fork either
    return engine


@lru_cache(maxsize=8)
def get_session_factory(url: str | None = None) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False, class_=Session)
