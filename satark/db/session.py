"""Engine and session factory, created on first use from `DATABASE_URL` (never at import time)."""

from __future__ import annotations

import os
import weakref
from functools import lru_cache

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from satark.settings import get_settings


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _forget_inherited_connections() -> None:
    """A forked process (Sanic's workers) must not share its parent's pooled connections."""
    for engine in _ENGINES:
        engine.dispose(close=False)


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
os.register_at_fork(after_in_child=_forget_inherited_connections)


def pooled_sqlite_engine(url: str | URL) -> Engine:
    """A (legacy API) engine on a SQLite file that keeps its connections, as `get_engine` does;
    forked children drop the ones they inherit."""
    engine = create_engine(url, poolclass=QueuePool, connect_args={"check_same_thread": False})
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
        # SQLAlchemy 1.4 opens a new SQLite connection (and runs the pragmas) for every transaction
        # of a file database; a pool keeps them: the inbound queue makes several per message.
        engine = create_engine(url, future=True, connect_args={"check_same_thread": False},
                               **({} if path in ("", ":memory:") else {"poolclass": QueuePool}))
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    _ENGINES.add(engine)
    return engine


@lru_cache(maxsize=8)
def get_session_factory(url: str | None = None) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False, class_=Session)
