"""Per-sender flood limit: one pseudonym sending too fast is slowed down, nobody else.

Counts messages per sender in fixed one-minute windows: in Redis when `REDIS_URL` is set (shared
by every server), else in this process's memory (one server).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
MEMORY_SENDERS = 100_000


class SenderRateLimit:
    def __init__(self, per_minute: int, redis_url: str | None = None, prefix: str = "satark:rate:") -> None:
        self.per_minute = per_minute
        self.prefix = prefix
        self._counts: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._redis = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    async def count(self, sender_id: str) -> int:
        """This message's number within the sender's current window (1 for the first)."""
        window = int(time.time() // WINDOW_SECONDS)
        if self._redis is not None:
            from redis.exceptions import RedisError

            key = f"{self.prefix}{sender_id}:{window}"
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_SECONDS * 2)
                    number, _ = await pipe.execute()
                return int(number)
            except (RedisError, OSError):
                log.warning("rate limit store unavailable; counting in memory")
        key = (sender_id, window)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._counts.move_to_end(key)
        while len(self._counts) > MEMORY_SENDERS:
            self._counts.popitem(last=False)
        return self._counts[key]

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()
