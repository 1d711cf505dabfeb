"""Rasa's tracker and lock stores, configured from the environment (`endpoints.yml` names them).

Rasa expands `${VAR}` in endpoints.yml but refuses to start when one is unset and knows no
defaults, so these classes read `satark.deployment` instead: without settings, one machine
(SQLite tracker store under var/, in-memory lock store); with `TRACKER_STORE_URL` on PostgreSQL
and `REDIS_URL`, several Rasa servers share conversations.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore

from satark import rasa_speedups
from satark.deployment import get_deployment_settings
from satark.tracker_store import RedactingSQLTrackerStore

rasa_speedups.install()  # every Rasa server process loads this module (endpoints.yml)

LOCK_STORE_DB = 1  # Redis database number of the lock store; the inbound queue uses the URL's


class EnvironmentTrackerStore(RedactingSQLTrackerStore):
    """The redacting SQL tracker store on `TRACKER_STORE_URL` (default: SQLite file var/tracker.db)."""

    def __init__(self, domain: Any = None, host: str | None = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        url = get_deployment_settings().tracker_store_url
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)


def redis_lock_store(url: str, prefix: str) -> RedisLockStore:
    """Rasa's Redis lock store on the server of `url` (`redis://[:password@]host:port/db`)."""
    parts = urlsplit(url)
    return RedisLockStore(host=parts.hostname or "localhost", port=parts.port or 6379, db=LOCK_STORE_DB,
                          username=parts.username or None, password=parts.password or None,
                          use_ssl=parts.scheme == "rediss",
                          key_prefix="".join(ch for ch in prefix if ch.isalnum()) or "satark")


class EnvironmentLockStore(LockStore):
    """Becomes Rasa's Redis lock store when `REDIS_URL` is set, else the in-memory one.

    Rasa instantiates custom lock stores by class path; `__new__` returns the right store.
    """

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        settings = get_deployment_settings()
        if settings.redis_url:
            return redis_lock_store(settings.redis_url, settings.redis_key_prefix)
        return InMemoryLockStore()
