"""Dropping redelivered messages: WhatsApp delivers at least once, also after our restarts.

Keyed message hashes go to the `processed_messages` table; a small in-memory set answers quick
redeliveries without a database round trip. Rows older than WhatsApp's retry horizon are pruned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from satark.db.models import ProcessedMessage, utcnow
from satark.db.session import get_session_factory

log = logging.getLogger(__name__)

RETENTION = timedelta(days=14)  # WhatsApp retries undelivered webhooks for up to 7 days
PRUNE_INTERVAL_SECONDS = 3600


class Deduplicator:
    def __init__(self, factory: sessionmaker | None = None, memory: int = 10_000) -> None:
        self._factory = factory
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._memory = memory
        self._last_prune = 0.0

    def _remember(self, key: str) -> None:
        self._recent[key] = None
        while len(self._recent) > self._memory:
            self._recent.popitem(last=False)

    def _insert(self, key: str) -> bool:
        factory = self._factory or get_session_factory()
        try:
            with factory.begin() as session:
                session.add(ProcessedMessage(message_key=key))
        except IntegrityError:
            return False
        if time.monotonic() - self._last_prune > PRUNE_INTERVAL_SECONDS:
            self._last_prune = time.monotonic()
            cutoff = utcnow() - RETENTION
            with factory.begin() as session:
                session.execute(delete(ProcessedMessage).where(ProcessedMessage.received_at < cutoff))
        return True

    async def first_time(self, key: str) -> bool:
        """True exactly once per key; when the database is down, memory alone decides."""
        if key in self._recent:
            return False
        self._remember(key)
        try:
            return await asyncio.get_running_loop().run_in_executor(None, self._insert, key)
        except SQLAlchemyError as error:
            log.warning("deduplication store unavailable (%s); using memory only", type(error).__name__)
            return True

    def _delete(self, key: str) -> None:
        factory = self._factory or get_session_factory()
        with factory.begin() as session:
            session.execute(delete(ProcessedMessage).where(ProcessedMessage.message_key == key))

    async def forget(self, key: str) -> None:
        """Undo `first_time` for a message that could not be queued, so its redelivery is taken."""
        self._recent.pop(key, None)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._delete, key)
        except SQLAlchemyError as error:
            log.warning("deduplication store unavailable (%s); redelivery may be dropped", type(error).__name__)
