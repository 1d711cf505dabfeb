"""The durable inbound queue: a webhook's messages are stored before WhatsApp gets its 200.

Each sender (pseudonym) has its own FIFO queue. A server handles a sender's messages only while
it holds that sender's lease, one message at a time, and removes a message only after handling
it; so each conversation is answered in order, by whichever server is free, and a message
survives a crash (the lease expires and another server carries on). Storing also drops
redeliveries: a message key is stored once, in the same transaction as the message.

A message costs two writes: storing it (with its key, and the lease when no server serves the
sender: the webhook's server then serves it at once) and removing it after handling (which hands
over the sender's next message, or releases the lease). Two stores:

- Redis (`REDIS_URL`): a stream per sender (its entry ids keep the order; a handled entry is
  deleted, and an empty stream with it), a sorted set of senders with work, a lease key per
  sender (`SET NX PX`), message keys with a time to live; each operation is one Lua script.
- The report database otherwise (`inbound_messages`, `inbound_leases`, `processed_messages`).

Entries are sealed with a key derived from ANONYMIZATION_KEY (AES-256-GCM): the reply address is
needed to answer and must not lie on disk readable. A handled entry is deleted at once.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import sqlite3
import struct
import termios
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from channels.whatsapp_inbound import Inbound, Recipient
from satark.anonymity import Anonymizer
from satark.db.models import UTCDateTime, utcnow
from satark.db.session import get_engine, write_ahead_log
from satark.media import IncomingMedia
from satark.settings import get_settings

log = logging.getLogger(__name__)

CANDIDATES = 64  # senders with work looked at per claim
# SQLite: how long an operation waits for another process's write lock, and its pauses between tries.
LOCK_WAIT_SECONDS = 10.0
LOCK_RETRY_FIRST_SECONDS = 0.0005
LOCK_RETRY_MAX_SECONDS = 0.05

# A stored message: its entry id, its sealed payload and how often a server started handling it.
Item = tuple[str, str, int]


def key_days() -> int:
    """How long message keys are kept: longer than WhatsApp redelivers (7 days)."""
    return get_settings().retention.processed_message_days


class QueueUnavailable(RuntimeError):
    """The queue's store cannot be reached: the webhook answers 503 and WhatsApp retries."""


@dataclass(frozen=True)
class Queued:
    """A stored message; `attempts` > 1 means a server stopped while handling it."""

    entry_id: str
    event: Inbound
    attempts: int


class Seal:
    """Encrypts queued messages (they hold the reply address) with a key derived from the anonymizer's.

    AES-256-GCM with a random 96-bit nonce per entry: authenticated like Fernet, which sealed
    entries before, at a fifth of its CPU (Fernet builds its cipher and HMAC objects in Python on
    every call: 0.34 ms to seal and open one message in a busy server, a quarter of what the
    WhatsApp path costs more than REST). Entries sealed with Fernet before an upgrade (`gAAAAA…`)
    are still opened, so a message waiting across the upgrade is not lost.
    """

    PREFIX = "2."  # never starts a Fernet token (its version byte makes them start with "gA")
    NONCE_BYTES = 12  # GCM's standard nonce, stored in front of the ciphertext

    def __init__(self, anonymizer: Anonymizer) -> None:
        self._aead = AESGCM(hmac.new(anonymizer.key, b"inbound-queue-seal-aes-gcm", hashlib.sha256).digest())
        legacy_key = hmac.new(anonymizer.key, b"inbound-queue-seal", hashlib.sha256).digest()
        self._legacy = Fernet(base64.urlsafe_b64encode(legacy_key))

    def seal(self, event: Inbound) -> str:
        fields = {"sender_id": event.sender_id, "message_key": event.message_key, "kind": event.kind,
                  "phone": event.reply_to.phone, "user_id": event.reply_to.user_id, "text": event.text,
                  "button_id": event.button_id, "media": asdict(event.media) if event.media else None}
        nonce = os.urandom(self.NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, json.dumps(fields, ensure_ascii=False).encode(), None)
        return self.PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str) -> Inbound:
        """The sealed message; InvalidToken if it was not sealed with this key (or was altered)."""
        if token.startswith(self.PREFIX):
            raw = base64.urlsafe_b64decode(token[len(self.PREFIX):])
            try:
                plain = self._aead.decrypt(raw[:self.NONCE_BYTES], raw[self.NONCE_BYTES:], None)
            except InvalidTag:
                raise InvalidToken from None
        else:
            plain = self._legacy.decrypt(token.encode())
        fields = json.loads(plain)
        return Inbound(
            sender_id=fields["sender_id"], message_key=fields["message_key"], kind=fields["kind"],
            reply_to=Recipient(phone=fields["phone"], user_id=fields["user_id"]), text=fields["text"],
            button_id=fields["button_id"],
            media=IncomingMedia(**fields["media"]) if fields["media"] else None)


class InboundStore(Protocol):
    async def enqueue(self, sender_id: str, entries: list[tuple[str, str]],
                      holder: str | None) -> tuple[int, Item | None]:
        """Stores, in order, the entries (message key, sealed payload) whose key is new. With a
        `holder`, also takes the sender's lease if no server holds it, and then returns the
        sender's first message to handle. Returns (entries stored, that message or None)."""

    async def claim(self, holder: str) -> tuple[str, Item] | None:
        """The lease and first message of a sender with waiting messages and no live lease."""

    async def finish(self, sender_id: str, holder: str, entry_id: str) -> Item | None:
        """Removes a handled message; returns the sender's next one, or releases the lease."""

    async def renew(self, sender_id: str, holder: str) -> bool: ...
    async def release(self, sender_id: str, holder: str) -> None: ...
    async def check(self) -> None: ...
    async def close(self) -> None: ...


_REDIS_COMMON = """
local prefix = ARGV[1]
local function head(sender)
  local found = redis.call('XRANGE', prefix .. 's:' .. sender, '-', '+', 'COUNT', 1)
  if #found == 0 then return false end
  local id, fields = found[1][1], found[1][2]
  local started = prefix .. 'started:' .. sender
  local previous = redis.call('GET', started)
  redis.call('SET', started, id)
  if previous == id then return {id, fields[2], 2} end
  return {id, fields[2], 1}
end
local function release(sender)
  redis.call('DEL', prefix .. 'lease:' .. sender)
  local stream = prefix .. 's:' .. sender
  if redis.call('XLEN', stream) == 0 then
    redis.call('DEL', stream)
    redis.call('ZREM', prefix .. 'ready', sender)
  end
end
"""
# ARGV: prefix, sender, holder ('' = take no lease), lease ms, key seconds, now, then key, payload pairs
_ENQUEUE = _REDIS_COMMON + """
local sender, holder = ARGV[2], ARGV[3]
local fresh = 0
for i = 7, #ARGV, 2 do
  if redis.call('SET', prefix .. 'seen:' .. ARGV[i], '1', 'NX', 'EX', ARGV[5]) then
    redis.call('XADD', prefix .. 's:' .. sender, '*', 'p', ARGV[i + 1])
    fresh = fresh + 1
  end
end
if fresh == 0 then return {0} end
redis.call('ZADD', prefix .. 'ready', 'NX', ARGV[6], sender)
if holder == '' or not redis.call('SET', prefix .. 'lease:' .. sender, holder, 'NX', 'PX', ARGV[4]) then
  return {fresh}
end
local item = head(sender)
if not item then release(sender) return {fresh} end
return {fresh, item[1], item[2], item[3]}
"""
# ARGV: prefix, holder, lease ms, candidates
_CLAIM = _REDIS_COMMON + """
for _, sender in ipairs(redis.call('ZRANGE', prefix .. 'ready', 0, tonumber(ARGV[4]) - 1)) do
  if redis.call('SET', prefix .. 'lease:' .. sender, ARGV[2], 'NX', 'PX', ARGV[3]) then
    local item = head(sender)
    if item then return {sender, item[1], item[2], item[3]} end
    release(sender)
  end
end
return false
"""
# ARGV: prefix, sender, holder, entry. A server that lost the lease still removes what it handled.
_FINISH = _REDIS_COMMON + """
local sender = ARGV[2]
redis.call('XDEL', prefix .. 's:' .. sender, ARGV[4])
if redis.call('GET', prefix .. 'lease:' .. sender) ~= ARGV[3] then return false end
redis.call('DEL', prefix .. 'started:' .. sender)
local item = head(sender)
if not item then release(sender) return false end
return item
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# ARGV: prefix, sender
_RELEASE = _REDIS_COMMON + """
if redis.call('GET', prefix .. 'lease:' .. ARGV[2]) == ARGV[3] then release(ARGV[2]) end
return 1
"""
# ARGV: prefix, sender. Before streams (until 2026-12) a sender's messages waited in a list
# `q:<sender>` of JSON {"id", "p"}; a server moves them to the stream before it serves anybody.
_UPGRADE = _REDIS_COMMON + """
local sender = ARGV[2]
local list, started = prefix .. 'q:' .. sender, prefix .. 'started:' .. sender
local previous = redis.call('GET', started)
for _, raw in ipairs(redis.call('LRANGE', list, 0, -1)) do
  local entry = cjson.decode(raw)
  local id = redis.call('XADD', prefix .. 's:' .. sender, '*', 'p', entry['p'])
  if entry['id'] == previous then redis.call('SET', started, id) end
end
return redis.call('DEL', list)
"""

def _item(found: list) -> Item:
    """(entry id, sealed payload, attempts) from a script's reply."""
    entry_id, payload, attempts = found
    return entry_id.decode(), payload.decode(), int(attempts)


class RedisStore:
    """Keys under `prefix`: `ready` (senders with work), the stream `s:<sender>` (its messages, a
    field `p` each), `lease:<sender>`, `started:<sender>` (the entry being handled) and
    `seen:<message key>`."""

    def __init__(self, url: str, lease_seconds: float, prefix: str = "satark:inbound:") -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix
        self.lease_ms = int(lease_seconds * 1000)
        self._enqueue = self.redis.register_script(_ENQUEUE)
        self._claim = self.redis.register_script(_CLAIM)
        self._finish = self.redis.register_script(_FINISH)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._upgrade = self.redis.register_script(_UPGRADE)
        self._lists_moved = False

    async def _call(self, coroutine: Awaitable):
        from redis.exceptions import RedisError

        try:
            return await coroutine
        except (RedisError, OSError) as error:
            raise QueueUnavailable(f"Redis: {type(error).__name__}: {error}") from error

    async def _upgraded(self) -> None:
        """Messages an earlier version left waiting in lists move to streams, once per process,
        before this server stores or claims anything."""
        if self._lists_moved:
            return
        async for key in self.redis.scan_iter(match=f"{self.prefix}q:*", count=1000):
            sender_id = key.decode()[len(self.prefix) + 2:]
            await self._upgrade(args=[self.prefix, sender_id])
            log.info("inbound messages of an earlier version moved to a stream")
        self._lists_moved = True

    async def enqueue(self, sender_id: str, entries: list[tuple[str, str]],
                      holder: str | None) -> tuple[int, Item | None]:
        await self._call(self._upgraded())
        pairs = [value for key, payload in entries for value in (key, payload)]
        found = await self._call(self._enqueue(args=[
            self.prefix, sender_id, holder or "", self.lease_ms, key_days() * 86400, time.time(), *pairs]))
        return int(found[0]), _item(found[1:]) if len(found) == 4 else None

    async def claim(self, holder: str) -> tuple[str, Item] | None:
        await self._call(self._upgraded())
        found = await self._call(self._claim(args=[self.prefix, holder, self.lease_ms, CANDIDATES]))
        return (found[0].decode(), _item(found[1:])) if found else None

    async def finish(self, sender_id: str, holder: str, entry_id: str) -> Item | None:
        found = await self._call(self._finish(args=[self.prefix, sender_id, holder, entry_id]))
        return _item(found) if found else None

    async def renew(self, sender_id: str, holder: str) -> bool:
        return bool(await self._call(self._renew(keys=[f"{self.prefix}lease:{sender_id}"],
                                                 args=[holder, self.lease_ms])))

    async def release(self, sender_id: str, holder: str) -> None:
        await self._call(self._release(args=[self.prefix, sender_id, holder]))

    async def check(self) -> None:
        await self._call(self.redis.ping())

    async def close(self) -> None:
        await self.redis.close()


class _Statements:
    """The store's constant SQL in the database driver's own parameter style.

    The store talks to the DB-API connection directly: SQLAlchemy's statement objects cost more
    CPU to build, compile and bind than SQLite takes to run them (SQLAlchemy `text()`: 48 µs a
    statement, the sqlite3 cursor: 3 µs). Plain SQL that SQLite and PostgreSQL both read.
    """

    INSERT_KEY = "INSERT INTO processed_messages (message_key, received_at) VALUES (:key, :now) ON CONFLICT DO NOTHING"
    INSERT_MESSAGE = ("INSERT INTO inbound_messages (sender_id, payload, attempts, created_at) "
                      "VALUES (:sender, :payload, 0, :now)")
    TAKE_EXPIRED_LEASE = ("UPDATE inbound_leases SET holder = :holder, expires_at = :expires "
                          "WHERE sender_id = :sender AND expires_at < :now")
    INSERT_LEASE = ("INSERT INTO inbound_leases (sender_id, holder, expires_at) VALUES (:sender, :holder, :expires) "
                    "ON CONFLICT DO NOTHING")
    HEAD = "SELECT id, payload, attempts FROM inbound_messages WHERE sender_id = :sender ORDER BY id LIMIT 1"
    COUNT_ATTEMPT = "UPDATE inbound_messages SET attempts = :attempts WHERE id = :id"
    DELETE_MESSAGE = "DELETE FROM inbound_messages WHERE id = :id"
    LEASE_HOLDER = "SELECT holder FROM inbound_leases WHERE sender_id = :sender"
    RELEASE_LEASE = "DELETE FROM inbound_leases WHERE sender_id = :sender AND holder = :holder"
    RENEW_LEASE = "UPDATE inbound_leases SET expires_at = :expires WHERE sender_id = :sender AND holder = :holder"
    # Senders with waiting messages and no live lease, longest waiting first.
    UNSERVED = ("SELECT m.sender_id FROM inbound_messages m LEFT JOIN inbound_leases l "
                "ON l.sender_id = m.sender_id AND l.expires_at >= :now WHERE l.sender_id IS NULL "
                "GROUP BY m.sender_id ORDER BY min(m.id) LIMIT :limit")

    def __init__(self, engine: Engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        database = engine.url.database
        # A SQLite file gets the store's own connections; an in-memory database only the engine's.
        self.sqlite_file = database if self.sqlite and database and database != ":memory:" else None
        # Timestamps as the models' UTCDateTime binds them: text on SQLite (compared as text there).
        self.time = UTCDateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect) or (lambda moment: moment)
        for name, sql in vars(_Statements).items():
            if name.isupper():  # sqlite3 reads `:name`; psycopg2 reads `%(name)s`
                setattr(self, name, sql if self.sqlite else re.sub(r":(\w+)", r"%(\1)s", sql))


class DatabaseStore:
    """The queue in the report database, for servers without Redis (`make run`: one machine).

    Each operation is one transaction. On a SQLite file the store keeps a connection of its own
    in each process (no pool check-out and reset per operation), committing with
    `synchronous=NORMAL`. Storing a message then waits for the disk, because that is what
    WhatsApp's 200 promises: its write-ahead log is flushed (fsync) in a thread, after the commit
    released the write lock. That is what `synchronous=FULL` does, except that FULL flushes in the
    event loop's thread while holding the lock: at saturation the loop stood still for 0.7 ms a
    turn, and the other worker slept in SQLite's busy handler for another 0.3 ms. Removing a
    handled message, leases and claims are not flushed: they survive a crash of the server but
    not of the machine; a power cut can undo the last of them, and a message may then be answered
    a second time (Redis with `appendfsync everysec`, in production, can lose its last second the
    same way). Other databases use the engine's pool.
    """

    def __init__(self, lease_seconds: float, engine: Engine | None = None) -> None:
        self._engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        self._sql: _Statements | None = None
        self._connection: sqlite3.Connection | None = None  # this process's
        self._log: int | None = None  # this process's descriptor of the write-ahead log, to flush it
        self._pid = os.getpid()

    @property
    def engine(self) -> Engine:
        return self._engine or get_engine()

    @property
    def sql(self) -> _Statements:
        """The statements for this engine's database (made once: the engine does not change)."""
        if self._sql is None:
            self._sql = _Statements(self.engine)
        return self._sql

    async def _run(self, operation: Callable, *args):
        """SQLite runs in the event loop's thread, as Rasa's own tracker store does: a local file
        answers in well under a millisecond, and handing each operation to a worker thread cost
        more (GIL hand-overs with the loop: 55.7 instead of 44.1 ms of CPU per WhatsApp turn at
        saturation). A database server across the network is waited for in a thread.

        While another process holds the SQLite file's write lock, the operation is tried again
        after an asyncio sleep (for up to `LOCK_WAIT_SECONDS`), so that the event loop serves other
        conversations meanwhile instead of sleeping in SQLite's busy handler (1 ms and more each
        time: 0.3-0.5 ms a turn at saturation). Each transaction rolls back whole on an error, and
        an operation is only its transactions, so it can be run again."""
        waited, pause = 0.0, LOCK_RETRY_FIRST_SECONDS
        while True:
            try:
                if self.sql.sqlite:
                    return operation(*args)
                return await asyncio.get_running_loop().run_in_executor(None, operation, *args)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or waited >= LOCK_WAIT_SECONDS:
                    raise QueueUnavailable(f"database: {type(error).__name__}") from error
            except (SQLAlchemyError, sqlite3.Error, self.engine.dialect.dbapi.Error) as error:
                raise QueueUnavailable(f"database: {type(error).__name__}") from error
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, LOCK_RETRY_MAX_SECONDS)

    def _forked(self) -> bool:
        """A forked worker opens its own connection and log descriptor (SQLite's rule)."""
        if self._pid == os.getpid():
            return False
        self._connection, self._log, self._pid = None, None, os.getpid()
        return True

    def _own_connection(self) -> sqlite3.Connection:
        self._forked()
        if self._connection is None:
            self._close_log()  # the log may have been deleted with the last connection: opened anew
            connection = sqlite3.connect(self.sql.sqlite_file, isolation_level=None, check_same_thread=False)
            write_ahead_log(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=0")  # a held write lock is waited for in `_run`
            self._connection = connection
        return self._connection

    def _log_descriptor(self) -> int:
        """The write-ahead log's file, opened once per connection: SQLite deletes the file only
        when the last connection closes, so it stays the same while this one is open."""
        if self._log is None:
            self._log = os.open(f"{self.sql.sqlite_file}-wal", os.O_RDONLY | os.O_CLOEXEC)
        return self._log

    def _close_log(self) -> None:
        if self._log is not None:
            os.close(self._log)
            self._log = None

    async def _flushed(self) -> None:
        """Waits until what this process committed is on the disk (see the class docstring)."""
        if not self.sql.sqlite_file:
            return  # the database server's own commit is durable
        try:
            await asyncio.get_running_loop().run_in_executor(None, os.fsync, self._log_descriptor())
        except OSError as error:
            raise QueueUnavailable(f"database: flushing the log failed ({type(error).__name__})") from error

    @contextmanager
    def _transaction(self, read_only: bool = False) -> Iterator[Any]:
        """A DB-API cursor in one transaction, committed at the end (rolled back on an error)."""
        if self.sql.sqlite_file:
            connection = self._own_connection()
            cursor = connection.cursor()
            if not read_only:
                cursor.execute("BEGIN IMMEDIATE")  # the write lock first: no upgrade that can fail
            try:
                yield cursor
                if not read_only:
                    cursor.execute("COMMIT")
            except BaseException:
                try:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                except sqlite3.Error:
                    self._connection = None  # opened again next time
                    connection.close()
                raise
            return
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                yield cursor
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool

    def _take(self, cursor: Any, sender_id: str, holder: str, now: datetime) -> bool:
        """The sender's lease, if nobody holds it or its holder's lease expired."""
        values = {"sender": sender_id, "holder": holder, "expires": self.sql.time(now + self.lease)}
        cursor.execute(self.sql.TAKE_EXPIRED_LEASE, {**values, "now": self.sql.time(now)})
        if cursor.rowcount == 1:
            return True
        cursor.execute(self.sql.INSERT_LEASE, values)
        return cursor.rowcount == 1

    def _head(self, cursor: Any, sender_id: str) -> Item | None:
        cursor.execute(self.sql.HEAD, {"sender": sender_id})
        row = cursor.fetchone()
        if row is None:
            return None
        entry_id, payload, attempts = row
        cursor.execute(self.sql.COUNT_ATTEMPT, {"id": entry_id, "attempts": attempts + 1})
        return str(entry_id), payload, attempts + 1

    def _enqueue(self, sender_id: str, entries: list[tuple[str, str]],
                 holder: str | None) -> tuple[int, Item | None]:
        now = utcnow()
        stamp = self.sql.time(now)
        with self._transaction() as cursor:
            fresh = []
            for key, payload in entries:
                cursor.execute(self.sql.INSERT_KEY, {"key": key, "now": stamp})
                if cursor.rowcount == 1:
                    fresh.append(payload)
            for payload in fresh:
                cursor.execute(self.sql.INSERT_MESSAGE, {"sender": sender_id, "payload": payload, "now": stamp})
            if not fresh or holder is None or not self._take(cursor, sender_id, holder, now):
                return len(fresh), None
            return len(fresh), self._head(cursor, sender_id)

    def _claim(self, holder: str) -> tuple[str, Item] | None:
        now = utcnow()
        with self._transaction(read_only=True) as cursor:
            cursor.execute(self.sql.UNSERVED, {"now": self.sql.time(now), "limit": CANDIDATES})
            waiting = [sender_id for (sender_id,) in cursor.fetchall()]
        for sender_id in waiting:
            with self._transaction() as cursor:
                if self._take(cursor, sender_id, holder, now):
                    item = self._head(cursor, sender_id)
                    if item is not None:
                        return sender_id, item
                    self._release_in(cursor, sender_id, holder)
        return None

    def _release_in(self, cursor: Any, sender_id: str, holder: str) -> None:
        cursor.execute(self.sql.RELEASE_LEASE, {"sender": sender_id, "holder": holder})

    def _finish(self, sender_id: str, holder: str, entry_id: str) -> Item | None:
        with self._transaction() as cursor:
            cursor.execute(self.sql.DELETE_MESSAGE, {"id": int(entry_id)})
            cursor.execute(self.sql.LEASE_HOLDER, {"sender": sender_id})
            row = cursor.fetchone()
            if row is None or row[0] != holder:  # another server took over (this one stalled): it carries on
                return None
            item = self._head(cursor, sender_id)
            if item is None:
                self._release_in(cursor, sender_id, holder)
            return item

    def _renew(self, sender_id: str, holder: str) -> bool:
        with self._transaction() as cursor:
            cursor.execute(self.sql.RENEW_LEASE, {"sender": sender_id, "holder": holder,
                                                  "expires": self.sql.time(utcnow() + self.lease)})
            return cursor.rowcount == 1

    def _release(self, sender_id: str, holder: str) -> None:
        with self._transaction() as cursor:
            self._release_in(cursor, sender_id, holder)

    def _check(self) -> None:
        with self._transaction(read_only=True) as cursor:
            cursor.execute("SELECT 1")

    async def enqueue(self, sender_id: str, entries: list[tuple[str, str]],
                      holder: str | None) -> tuple[int, Item | None]:
        stored = await self._run(self._enqueue, sender_id, entries, holder)
        await self._flushed()  # a redelivery too: its first delivery may have failed at this step
        return stored

    async def claim(self, holder: str) -> tuple[str, Item] | None:
        return await self._run(self._claim, holder)

    async def finish(self, sender_id: str, holder: str, entry_id: str) -> Item | None:
        return await self._run(self._finish, sender_id, holder, entry_id)

    async def renew(self, sender_id: str, holder: str) -> bool:
        return await self._run(self._renew, sender_id, holder)

    async def release(self, sender_id: str, holder: str) -> None:
        await self._run(self._release, sender_id, holder)

    async def check(self) -> None:
        await self._run(self._check)

    async def close(self) -> None:
        if not self._forked():
            if self._connection is not None:
                self._connection.close()
            self._close_log()
        self._connection = None


def holder_name() -> str:
    """This process among the servers sharing the queue."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


class Doorbell:
    """Wakes whichever worker process of this server is free, to claim a stored message.

    Sanic's workers are forked after the connector is set up, so they share this pipe. The kernel
    hands each webhook *connection* to one worker, and the few kept-alive connections that carry
    all webhooks stayed on one: at 50 citizens one worker did 62 % of the work while the other waited. A worker
    that is already busy leaves a new conversation's message unleased and rings; every idle
    worker's event loop sees the pipe readable at once, the first to read the byte claims it.
    While a ring is unanswered no worker is free, and a busy worker serves what it receives.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._loop: asyncio.AbstractEventLoop | None = None

    def unanswered(self) -> bool:
        """An earlier ring is still unread: no worker is free right now."""
        return struct.unpack("i", fcntl.ioctl(self._read, termios.FIONREAD, b"\0\0\0\0"))[0] > 0

    def ring(self) -> None:
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:  # thousands unanswered: every worker is awake and claiming anyway
            pass

    def listen(self, answer: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._read, self._take, answer)

    def _take(self, answer: Callable[[], None]) -> None:
        try:
            os.read(self._read, 1)
        except BlockingIOError:  # another worker was first
            return
        answer()

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._read)
        self._loop = None


class InboundQueue:
    """Stores webhook messages and hands each sender's messages, in order, to `handle`.

    The webhook's server takes the lease of a sender nobody serves while storing its message and
    serves it at once; with a `doorbell` (several workers), a worker already serving a
    conversation rings for a free one instead, unless an earlier ring is still unanswered. A
    claimer task takes over what is left (senders beyond `concurrency`, or whose server died)
    every `poll_seconds`, and at once when this server left work waiting or the doorbell rang.
    """

    def __init__(self, store: InboundStore, seal: Seal, handle: Callable[[Queued], Awaitable[None]], *,
                 concurrency: int = 16, lease_seconds: float = 30.0, poll_seconds: float = 0.5,
                 doorbell: Doorbell | None = None) -> None:
        self.store = store
        self.seal = seal
        self.handle = handle
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.doorbell = doorbell
        self.holder = holder_name()
        self.serving: dict[str, asyncio.Task] = {}
        self._lost: set[str] = set()  # senders whose lease another server took over
        self._backlog = False  # a message was stored for a sender this server had no room for
        self._full = False  # ... because it was serving `concurrency` conversations
        self._wake = asyncio.Event()
        self._stopping = False
        self._claiming = False
        self._claimer: asyncio.Task | None = None

    async def put(self, events: list[Inbound]) -> int:
        """Durably store one webhook's events (raises QueueUnavailable); returns how many were new
        (the others were redeliveries), once stored."""
        by_sender: dict[str, list[tuple[str, str]]] = {}
        for event in events:
            by_sender.setdefault(event.sender_id, []).append((event.message_key, self.seal.seal(event)))
        stored = 0
        for sender_id, entries in by_sender.items():
            holder = self.holder if self._can_serve(sender_id) else None
            waiting = holder is None and sender_id not in self.serving
            self._backlog = self._backlog or waiting
            self._full = self._full or (waiting and len(self.serving) >= self.concurrency)
            fresh, first = await self.store.enqueue(sender_id, entries, holder)
            stored += fresh
            if first is not None:
                self._serve_from(sender_id, first)
            elif fresh and waiting and self.doorbell is not None:
                self.doorbell.ring()
        return stored

    def _can_serve(self, sender_id: str) -> bool:
        """Whether to take this sender's lease while storing its message. Not while conversations
        this server had no room for wait: they are claimed first, oldest first, so a new one does
        not overtake them."""
        if (self._claimer is None or self._stopping or sender_id in self.serving
                or len(self.serving) >= self.concurrency or self._full):
            return False
        return not self.serving or self.doorbell is None or self.doorbell.unanswered()

    def _serve_from(self, sender_id: str, first: Item) -> None:
        if sender_id in self.serving:  # this server's lease had expired and it took it again
            return
        self.serving[sender_id] = asyncio.create_task(self._serve(sender_id, first))

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._claimer = asyncio.create_task(self._claim_loop())
        if self.doorbell is not None:
            self.doorbell.listen(self._wake.set)

    async def stop(self) -> None:
        """Stop taking work; messages being handled finish, the rest stay queued for other servers."""
        self._stopping = True
        if self.doorbell is not None:
            self.doorbell.stop()
        if self._claimer is not None:
            self._claimer.cancel()
        if self.serving:
            await asyncio.gather(*self.serving.values(), return_exceptions=True)
        await self.store.close()

    def idle(self) -> bool:
        """Nothing this process took is waiting or being handled (other servers' work aside)."""
        return not (self.serving or self._wake.is_set() or self._claiming)

    async def _claim_loop(self) -> None:
        while not self._stopping:
            # asyncio.wait, not wait_for: on Python 3.10 wait_for can swallow a cancellation.
            waiter = asyncio.ensure_future(self._wake.wait())
            done, _ = await asyncio.wait({waiter}, timeout=self.poll_seconds)
            if not done:
                waiter.cancel()
            self._wake.clear()
            self._backlog = False
            self._claiming = True
            try:
                await self._claim_some()
            except QueueUnavailable as error:
                log.error("inbound queue unavailable: %s", error)
                await asyncio.sleep(self.poll_seconds)
            finally:
                self._claiming = False

    async def _claim_some(self) -> None:
        while not self._stopping:
            if len(self.serving) >= self.concurrency:  # more may wait: claim again when there is room
                self._backlog = self._full = True
                return
            claimed = await self.store.claim(self.holder)
            if claimed is None:  # nobody waits (for this server): newcomers may be served directly
                self._full = False
                return
            self._serve_from(*claimed)

    async def _serve(self, sender_id: str, item: Item | None) -> None:
        renewer = asyncio.create_task(self._keep_lease(sender_id))
        try:
            while item is not None and not self._stopping and sender_id not in self._lost:
                entry_id, payload, attempts = item
                try:
                    event = self.seal.open(payload)
                except (InvalidToken, ValueError, KeyError, TypeError):
                    log.error("unreadable inbound queue entry dropped (was ANONYMIZATION_KEY changed?)")
                else:
                    await self.handle(Queued(entry_id, event, attempts))
                item = await self.store.finish(sender_id, self.holder, entry_id)
        except QueueUnavailable as error:
            log.error("inbound queue unavailable while serving a conversation: %s", error)
        finally:
            renewer.cancel()
            if item is not None:  # stopping, or the lease was lost: the next message stays queued
                try:
                    await self.store.release(sender_id, self.holder)
                except QueueUnavailable:
                    pass  # the lease expires by itself
            del self.serving[sender_id]
            self._lost.discard(sender_id)
            if self._backlog:  # room for a conversation this server had to leave waiting
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
