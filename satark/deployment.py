"""Settings of the production profile: shared stores and the inbound queue (`.env.example`).

Unset, everything runs on one machine: SQLite tracker store, in-memory lock store, the inbound
queue in the report database. With `REDIS_URL` and a PostgreSQL `TRACKER_STORE_URL`, any number
of Rasa servers share the work (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from satark.settings import get_settings


@dataclass(frozen=True)
class DeploymentSettings:
    redis_url: str | None
    redis_key_prefix: str
    tracker_store_url: str
    inbound_concurrency: int
    inbound_lease_seconds: float
    inbound_poll_seconds: float
    sender_rate_limit_per_minute: int
    worker_processes: int  # Sanic workers of each Rasa server (`SANIC_WORKERS`, as Rasa reads it)


@lru_cache(maxsize=1)
def get_deployment_settings() -> DeploymentSettings:
    var_dir = get_settings().var_dir
    return DeploymentSettings(
        redis_url=os.environ.get("REDIS_URL") or None,
        redis_key_prefix=os.environ.get("REDIS_KEY_PREFIX") or "satark",
        tracker_store_url=os.environ.get("TRACKER_STORE_URL") or f"sqlite:///{var_dir / 'tracker.db'}",
        inbound_concurrency=int(os.environ.get("INBOUND_CONCURRENCY") or 16),
        inbound_lease_seconds=float(os.environ.get("INBOUND_LEASE_SECONDS") or 30),
        inbound_poll_seconds=float(os.environ.get("INBOUND_POLL_SECONDS") or 0.5),
        sender_rate_limit_per_minute=int(os.environ.get("SENDER_RATE_LIMIT_PER_MINUTE") or 30),
        worker_processes=max(1, int(os.environ.get("SANIC_WORKERS") or 1)),
    )
