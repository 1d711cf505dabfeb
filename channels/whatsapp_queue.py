"""The durable inbound queue: a webhook's messages are stored before WhatsApp gets its 200.

Each sender (pseudonym) has its own FIFO queue. A server handles a sender's messages only while
it holds that sender's lease, one message at a time, and removes a message only after handling
it; so each conversation is answered in order, by whichever server is free, and a message
survives a crash (the lease expires and another server carries on). Two stores:

- Redis (`REDIS_URL`): a list per sender, a sorted set of senders with work, a lease key per
  sender (`SET NX PX`); claims and releases are Lua scripts, so they are atomic.
- The report database otherwise (`inbound_messages`, `inbound_leases`).

Entries are sealed with a key derived from ANONYMIZATION_KEY (Fernet): the reply address is
needed to answer and must not lie on disk readable. A handled entry is deleted at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from channels.whatsapp_inbound import Inbound, Recipient
from satark.anonymity import Anonymizer
from satark.db.models import InboundLease, InboundMessage, utcnow
from satark.db.session import get_session_factory
from satark.media import IncomingMedia

log = logging.getLogger(__name__)

CANDIDATES = 64  # senders with work looked at per claim


class QueueUnavailable(RuntimeError):
    """The queue's store cannot be reached: the webhook answers 503 and WhatsApp retries."""


@dataclass(frozen=True)
class Queued:
    """A stored message; `attempts` > 1 means a server stopped while handling it."""

    entry_id: str
    event: Inbound
    attempts: int


class Seal:
    """Encrypts queued messages (they hold the reply address) with a key derived from the anonymizer's."""

    def __init__(self, anonymizer: Anonymizer) -> None:
        key = hmac.new(anonymizer.key, b"inbound-queue-seal", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, event: Inbound) -> str:
        fields = {"sender_id": event.sender_id, "message_key": event.message_key, "kind": event.kind,
                  "phone": event.reply_to.phone, "user_id": event.reply_to.user_id, "text": event.text,
                  "button_id": event.button_id, "media": asdict(event.media) if event.media else None}
        return self._fernet.encrypt(json.dumps(fields, ensure_ascii=False).encode()).decode()

    def open(self, token: str) -> Inbound:
        fields = json.loads(self._fernet.decrypt(token.encode()))
        return Inbound(
            sender_id=fields["sender_id"], message_key=fields["message_key"], kind=fields["kind"],
            reply_to=Recipient(phone=fields["phone"], user_id=fields["user_id"]), text=fields["text"],
            button_id=fields["button_id"],
            media=IncomingMedia(**fields["media"]) if fields["media"] else None)


class InboundStore(Protocol):
    async def enqueue(self, sender_id: str, payloads: list[str]) -> None: ...
    async def claim(self, holder: str, preferred: str | None) -> str | None: ...
    async def head(self, sender_id: str) -> tuple[str, str, int] | None: ...
    async def done(self, sender_id: str, entry_id: str) -> None: ...
    async def renew(self, sender_id: str, holder: str) -> bool: ...
    async def release(self, sender_id: str, holder: str) -> None: ...
    async def check(self) -> None: ...
    async def close(self) -> None: ...


_CLAIM = """
local function take(sender)
  if redis.call('SET', ARGV[1] .. 'lease:' .. sender, ARGV[2], 'NX', 'PX', ARGV[3]) then return sender end
  return false
end
if ARGV[4] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  local got = take(ARGV[4])
  if got then return got end
end
for _, sender in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)) do
  local got = take(sender)
  if got then return got end
end
return false
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[3], ARGV[2]) end
return 1
"""


class RedisStore:
    """Keys under `prefix`: `ready` (senders with work), `q:<sender>`, `lease:<sender>`, `started:<sender>`."""

    def __init__(self, url: str, lease_seconds: float, prefix: str = "satark:inbound:") -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix
        self.lease_ms = int(lease_seconds * 1000)
        self._claim = self.redis.register_script(_CLAIM)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    async def _call(self, coroutine: Awaitable):
        from redis.exceptions import RedisError

        try:
            return await coroutine
        except (RedisError, OSError) as error:
            raise QueueUnavailable(f"Redis: {type(error).__name__}: {error}") from error

    async def enqueue(self, sender_id: str, payloads: list[str]) -> None:
        items = [json.dumps({"id": secrets.token_hex(8), "p": p}) for p in payloads]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(f"{self.prefix}q:{sender_id}", *items)
            pipe.zadd(f"{self.prefix}ready", {sender_id: time.time()}, nx=True)
            await self._call(pipe.execute())

    async def claim(self, holder: str, preferred: str | None) -> str | None:
        sender = await self._call(self._claim(
            keys=[f"{self.prefix}ready"], args=[self.prefix, holder, self.lease_ms, preferred or "", CANDIDATES]))
        return sender.decode() if sender else None

    async def head(self, sender_id: str) -> tuple[str, str, int] | None:
        raw = await self._call(self.redis.lindex(f"{self.prefix}q:{sender_id}", 0))
        if raw is None:
            return None
        item = json.loads(raw)
        started = f"{self.prefix}started:{sender_id}"
        previous = await self._call(self.redis.set(started, item["id"], get=True))
        return raw.decode(), item["p"], 2 if previous is not None and previous.decode() == item["id"] else 1

    async def done(self, sender_id: str, entry_id: str) -> None:
        """Removes exactly this entry (never "the first one": a server that lost its lease may
        finish a message another server already removed)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(f"{self.prefix}q:{sender_id}", 1, entry_id)
            pipe.delete(f"{self.prefix}started:{sender_id}")
            await self._call(pipe.execute())

    async def renew(self, sender_id: str, holder: str) -> bool:
        return bool(await self._call(self._renew(keys=[f"{self.prefix}lease:{sender_id}"],
                                                 args=[holder, self.lease_ms])))

    async def release(self, sender_id: str, holder: str) -> None:
        await self._call(self._release(
            keys=[f"{self.prefix}lease:{sender_id}", f"{self.prefix}q:{sender_id}", f"{self.prefix}ready"],
            args=[holder, sender_id]))

    async def check(self) -> None:
        await self._call(self.redis.ping())

    async def close(self) -> None:
        await self.redis.close()


class DatabaseStore:
    """The queue in the report database, for a single server without Redis (`make run`)."""

    def __init__(self, lease_seconds: float, factory: sessionmaker | None = None) -> None:
        self._factory = factory
        self.lease = timedelta(seconds=lease_seconds)

    @property
    def factory(self) -> sessionmaker:
        return self._factory or get_session_factory()

    async def _run(self, operation: Callable, *args):
        try:
            return await asyncio.get_running_loop().run_in_executor(None, operation, *args)
        except SQLAlchemyError as error:
            raise QueueUnavailable(f"database: {type(error).__name__}") from error

    def _enqueue(self, sender_id: str, payloads: list[str]) -> None:
        with self.factory.begin() as session:
            session.add_all(InboundMessage(sender_id=sender_id, payload=p, attempts=0) for p in payloads)

    def _take(self, sender_id: str, holder: str) -> bool:
        now = utcnow()
        try:
            with self.factory.begin() as session:
                session.add(InboundLease(sender_id=sender_id, holder=holder, expires_at=now + self.lease))
            return True
        except IntegrityError:
            pass
        with self.factory.begin() as session:
            taken = session.execute(update(InboundLease).where(
                InboundLease.sender_id == sender_id, InboundLease.expires_at < now,
            ).values(holder=holder, expires_at=now + self.lease))
            return taken.rowcount == 1

    def _claim(self, holder: str, preferred: str | None) -> str | None:
        if preferred is not None and self._take(preferred, holder):
            return preferred  # the webhook just stored its message: one transaction, no scan
        with self.factory.begin() as session:
            waiting = list(session.execute(
                select(InboundMessage.sender_id).group_by(InboundMessage.sender_id)
                .order_by(func.min(InboundMessage.id)).limit(CANDIDATES)).scalars())
            held = set(session.execute(select(InboundLease.sender_id).where(
                InboundLease.sender_id.in_(waiting), InboundLease.expires_at >= utcnow())).scalars())
        for sender_id in waiting:
            if sender_id not in held and self._take(sender_id, holder):
                return sender_id
        return None

    def _head(self, sender_id: str) -> tuple[str, str, int] | None:
        with self.factory.begin() as session:
            row = session.execute(select(InboundMessage).where(InboundMessage.sender_id == sender_id)
                                  .order_by(InboundMessage.id).limit(1)).scalar_one_or_none()
            if row is None:
                return None
            row.attempts += 1
            return str(row.id), row.payload, row.attempts

    def _done(self, entry_id: str) -> None:
        with self.factory.begin() as session:
            session.execute(delete(InboundMessage).where(InboundMessage.id == int(entry_id)))

    def _renew(self, sender_id: str, holder: str) -> bool:
        with self.factory.begin() as session:
            return session.execute(update(InboundLease).where(
                InboundLease.sender_id == sender_id, InboundLease.holder == holder,
            ).values(expires_at=utcnow() + self.lease)).rowcount == 1

    def _release(self, sender_id: str, holder: str) -> None:
        with self.factory.begin() as session:
            session.execute(delete(InboundLease).where(
                InboundLease.sender_id == sender_id, InboundLease.holder == holder))

    def _check(self) -> None:
        with self.factory.begin() as session:
            session.execute(text("SELECT 1"))

    async def enqueue(self, sender_id: str, payloads: list[str]) -> None:
        await self._run(self._enqueue, sender_id, payloads)

    async def claim(self, holder: str, preferred: str | None) -> str | None:
        return await self._run(self._claim, holder, preferred)

    async def head(self, sender_id: str) -> tuple[str, str, int] | None:
        return await self._run(self._head, sender_id)

    async def done(self, sender_id: str, entry_id: str) -> None:
        await self._run(self._done, entry_id)

    async def renew(self, sender_id: str, holder: str) -> bool:
        return await self._run(self._renew, sender_id, holder)

    async def release(self, sender_id: str, holder: str) -> None:
        await self._run(self._release, sender_id, holder)

    async def check(self) -> None:
        await self._run(self._check)

    async def close(self) -> None:
        return None


def holder_name() -> str:
    """This process among the servers sharing the queue."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


class InboundQueue:
    """Stores webhook messages and hands each sender's messages, in order, to `handle`.

    One claimer task takes sender leases while fewer than `concurrency` senders are being
    served; the webhook wakes it for its own senders, and it polls every `poll_seconds` for work
    other servers stored or left behind.
    """

    def __init__(self, store: InboundStore, seal: Seal, handle: Callable[[Queued], Awaitable[None]], *,
                 concurrency: int = 16, lease_seconds: float = 30.0, poll_seconds: float = 0.5) -> None:
        self.store = store
        self.seal = seal
        self.handle = handle
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.holder = holder_name()
        self.serving: dict[str, asyncio.Task] = {}
        self._lost: set[str] = set()  # senders whose lease another server took over
        self._preferred: deque[str] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._claiming = False
        self._claimer: asyncio.Task | None = None

    async def put(self, events: list[Inbound]) -> None:
        """Durably store one webhook's events (raises QueueUnavailable); returns once stored."""
        by_sender: dict[str, list[str]] = {}
        for event in events:
            by_sender.setdefault(event.sender_id, []).append(self.seal.seal(event))
        for sender_id, payloads in by_sender.items():
            await self.store.enqueue(sender_id, payloads)
            self._preferred.append(sender_id)
        if by_sender:
            self._wake.set()

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._claimer = asyncio.create_task(self._claim_loop())

    async def stop(self) -> None:
        """Stop taking work; messages being handled finish, the rest stay queued for other servers."""
        self._stopping = True
        if self._claimer is not None:
            self._claimer.cancel()
        if self.serving:
            await asyncio.gather(*self.serving.values(), return_exceptions=True)
        await self.store.close()

    def idle(self) -> bool:
        """Nothing this process stored or claimed is waiting here (other servers' work aside)."""
        return not (self.serving or self._preferred or self._wake.is_set() or self._claiming)

    async def _claim_loop(self) -> None:
        while not self._stopping:
            # asyncio.wait, not wait_for: on Python 3.10 wait_for can swallow a cancellation.
            waiter = asyncio.ensure_future(self._wake.wait())
            done, _ = await asyncio.wait({waiter}, timeout=self.poll_seconds)
            if not done:
                waiter.cancel()
            self._wake.clear()
            self._claiming = True
            try:
                await self._claim_some()
            except QueueUnavailable as error:
                log.error("inbound queue unavailable: %s", error)
                await asyncio.sleep(self.poll_seconds)
            finally:
                self._claiming = False

    async def _claim_some(self) -> None:
        while len(self.serving) < self.concurrency and not self._stopping:
            preferred = self._preferred.popleft() if self._preferred else None
            if preferred in self.serving:
                continue  # its server loop will find the new message
            sender_id = await self.store.claim(self.holder, preferred)
            if sender_id is None:
                if self._preferred:
                    continue
                return
            self.serving[sender_id] = asyncio.create_task(self._serve(sender_id))

    async def _serve(self, sender_id: str) -> None:
        renewer = asyncio.create_task(self._keep_lease(sender_id))
        try:
            while not self._stopping and sender_id not in self._lost:
                item = await self.store.head(sender_id)
                if item is None:
                    break
                entry_id, payload, attempts = item
                try:
                    event = self.seal.open(payload)
                except (InvalidToken, ValueError, KeyError, TypeError):
                    log.error("unreadable inbound queue entry dropped (was ANONYMIZATION_KEY changed?)")
                else:
                    await self.handle(Queued(entry_id, event, attempts))
                await self.store.done(sender_id, entry_id)
        except QueueUnavailable as error:
            log.error("inbound queue unavailable while serving a conversation: %s", error)
        finally:
            renewer.cancel()
            try:
                await self.store.release(sender_id, self.holder)
            except QueueUnavailable:
                pass  # the lease expires by itself
            del self.serving[sender_id]
            self._lost.discard(sender_id)
            self._wake.set()

    async def _keep_lease(self, sender_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                if not await self.store.renew(sender_id, self.holder):
                    # This process was stalled longer than the lease: another server serves the
                    # conversation now; this one stops after the message in hand.
                    self._lost.add(sender_id)
                    log.error("lost the lease of a conversation being served (stalled > %.0f s)",
                              self.lease_seconds)
            except QueueUnavailable:
                pass
