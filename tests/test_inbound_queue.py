"""The durable inbound queue on both stores (SQLite and the real Redis on 127.0.0.1:6379): order
per sender across servers, each message once (redeliveries dropped), take-over after a server dies,
sealed entries."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import random
import secrets
import sqlite3
import threading
import time

import pytest
import redis
from cryptography.fernet import Fernet, InvalidToken

from channels import whatsapp_queue
from channels.whatsapp_inbound import Inbound, Recipient
from channels.whatsapp_queue import (
    DatabaseStore,
    Doorbell,
    InboundQueue,
    Queued,
    QueueUnavailable,
    RedisStore,
    Seal,
)
from satark.anonymity import Anonymizer
from satark.db.models import Base, InboundLease, InboundMessage, ProcessedMessage
from satark.db.session import get_engine, get_session_factory

REDIS_URL = "redis://127.0.0.1:6379/0"
SEAL = Seal(Anonymizer(b"k" * 40))


def event(sender: str, text: str, phone: str = "919812345678") -> Inbound:
    return Inbound(sender_id=sender, message_key=secrets.token_hex(8), kind="text",
                   reply_to=Recipient(phone=phone), text=text)


@pytest.fixture
def sqlite_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    Base.metadata.create_all(get_engine(url))
    yield lambda lease: DatabaseStore(lease, get_engine(url))
    get_engine(url).dispose()


@pytest.fixture
def redis_store():
    prefix = f"satark-test-{secrets.token_hex(4)}:"
    yield lambda lease: RedisStore(REDIS_URL, lease, prefix=prefix)
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def postgres_store(postgres):
    yield lambda lease: DatabaseStore(lease, get_engine())


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def make_store(request):
    return request.getfixturevalue(f"{request.param}_store")


def test_sealed_entry_hides_the_reply_address_and_round_trips():
    original = event("s1", "hello", phone="919812345678")
    token = SEAL.seal(original)
    assert "919812345678" not in token and "hello" not in token
    assert SEAL.open(token) == original
    assert SEAL.open(token).reply_to.phone == "919812345678"


def test_a_sealed_entry_opens_only_unaltered_and_with_its_own_key():
    token = SEAL.seal(event("s1", "hello"))
    raw = bytearray(base64.urlsafe_b64decode(token[len(Seal.PREFIX):]))
    raw[20] ^= 1
    with pytest.raises(InvalidToken):
        SEAL.open(Seal.PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidToken):
        Seal(Anonymizer(b"o" * 40)).open(token)


def test_an_entry_sealed_before_the_upgrade_to_aes_gcm_still_opens():
    """Messages waiting in the queue while the servers are upgraded are not lost."""
    original = event("s1", "sent before the upgrade")
    legacy_key = hmac.new(b"k" * 40, b"inbound-queue-seal", hashlib.sha256).digest()
    fields = {"sender_id": "s1", "message_key": original.message_key, "kind": "text", "phone": "919812345678",
              "user_id": None, "text": "sent before the upgrade", "button_id": None, "media": None}
    token = Fernet(base64.urlsafe_b64encode(legacy_key)).encrypt(json.dumps(fields).encode()).decode()
    assert SEAL.open(token) == original


def test_sqlite_rows_hold_no_phone_number(sqlite_store, tmp_path):
    async def scenario():
        store = sqlite_store(30)
        queue = InboundQueue(store, SEAL, handle=lambda q: asyncio.sleep(0))
        await queue.put([event("s1", "text", phone="919855500011")])
    asyncio.run(scenario())
    assert b"919855500011" not in (tmp_path / "queue.db").read_bytes()
    assert b"9855500011" not in (tmp_path / "queue.db").read_bytes()


def test_sqlite_store_flushes_the_log_sqlite_writes_now_even_after_sqlite_replaced_it(sqlite_store, tmp_path):
    """Storing a message waits for the write-ahead log to reach the disk (fsync in a thread): the
    file flushed must be the log SQLite writes, also after the last connection closed and SQLite
    deleted the old one."""
    log_file = tmp_path / "queue.db-wal"

    async def scenario():
        store = sqlite_store(30)
        assert await store.enqueue("s1", [("key-1", "sealed")], None) == (1, None)
        first_log = os.fstat(store._log).st_ino
        assert first_log == log_file.stat().st_ino
        store._connection.close()  # the last connection: SQLite checkpoints and deletes the log
        store._connection = None
        get_engine(f"sqlite:///{tmp_path / 'queue.db'}").dispose()
        assert not log_file.exists()
        assert await store.enqueue("s1", [("key-2", "sealed")], None) == (1, None)
        assert os.fstat(store._log).st_ino == log_file.stat().st_ino
        assert os.fstat(store._log).st_nlink == 1
        await store.close()
    asyncio.run(scenario())


def hold_write_lock(database, seconds: float) -> threading.Thread:
    """Another process's writer, as SQLite sees it: holds the file's write lock for `seconds`."""
    ready = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()
    holder = threading.Thread(target=hold)
    holder.start()
    ready.wait()
    return holder


def test_sqlite_store_waits_for_a_held_write_lock_without_stalling_the_event_loop(sqlite_store, tmp_path):
    async def scenario():
        store = sqlite_store(30)
        await store.enqueue("warm", [("key-0", "sealed")], None)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)
        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        holder = hold_write_lock(tmp_path / "queue.db", 0.3)
        started = time.monotonic()
        stored = await store.enqueue("s1", [("key-1", "sealed")], "server-a")
        waited = time.monotonic() - started
        ticking.cancel()
        holder.join()
        await store.close()
        return stored, waited, ticks
    stored, waited, ticks = asyncio.run(scenario())
    assert stored[0] == 1 and stored[1] is not None  # stored, and the lease taken with it
    assert waited >= 0.25  # it did wait for the lock
    assert ticks >= 50  # the loop kept serving others meanwhile (a blocked loop ticks about once)


def test_sqlite_store_gives_up_on_a_write_lock_held_too_long(sqlite_store, tmp_path, monkeypatch):
    monkeypatch.setattr(whatsapp_queue, "LOCK_WAIT_SECONDS", 0.2)

    async def scenario():
        store = sqlite_store(30)
        await store.enqueue("warm", [("key-0", "sealed")], None)
        holder = hold_write_lock(tmp_path / "queue.db", 1.0)
        try:
            with pytest.raises(QueueUnavailable, match="OperationalError"):
                await store.enqueue("s1", [("key-1", "sealed")], None)
        finally:
            holder.join()
        assert await store.enqueue("s1", [("key-1", "sealed")], None) == (1, None)  # once it is free
        await store.close()
    asyncio.run(scenario())


async def run_servers(stores, puts, handle_delay=0.02, lease=5.0):
    """Several InboundQueues ("servers") sharing one store; `puts` are (server index, event)."""
    handled: list[tuple[int, str, str]] = []

    def handler(index):
        async def handle(queued: Queued) -> None:
            await asyncio.sleep(random.random() * handle_delay)
            handled.append((index, queued.event.sender_id, queued.event.text))
        return handle

    queues = [InboundQueue(store, SEAL, handler(i), concurrency=4, lease_seconds=lease, poll_seconds=0.05)
              for i, store in enumerate(stores)]
    for queue in queues:
        queue.start()
    for index, item in puts:
        await queues[index].put([item])
        await asyncio.sleep(0.002)
    for _ in range(600):
        if len(handled) >= len(puts) and all(q.idle() for q in queues):
            break
        await asyncio.sleep(0.05)
    for queue in queues:
        await queue.stop()
    return handled


def test_two_servers_each_sender_in_order_each_message_once(make_store):
    senders = [f"sender-{i}" for i in range(6)]
    puts = [(n % 2, event(sender, f"{sender}:{n}")) for n in range(8) for sender in senders]
    handled = asyncio.run(run_servers([make_store(5), make_store(5)], puts))
    assert sorted(text for _, _, text in handled) == sorted(e.text for _, e in puts)  # each once
    for sender in senders:
        texts = [text for _, who, text in handled if who == sender]
        assert texts == [f"{sender}:{n}" for n in range(8)]
    assert {server for server, _, _ in handled} == {0, 1}  # both servers did work


def test_a_busy_worker_rings_and_a_free_worker_of_the_same_server_serves(make_store):
    """Sanic's workers share the doorbell: a message reaching a worker that is busy is served at
    once by the free one, not after that worker's turn or the next poll (30 s here)."""
    async def scenario():
        busy, served_by = asyncio.Event(), {}
        doorbell = Doorbell()

        def handler(name):
            async def handle(queued: Queued) -> None:
                served_by[queued.event.text] = name
                if queued.event.text == "long turn":
                    await busy.wait()
            return handle

        worker_a, worker_b = (InboundQueue(make_store(30), SEAL, handler(name), poll_seconds=30, doorbell=doorbell)
                              for name in ("a", "b"))
        worker_a.start()
        worker_b.start()
        await worker_a.put([event("first-sender", "long turn")])
        await worker_a.put([event("second-sender", "hello")])
        for _ in range(100):
            if "hello" in served_by:
                break
            await asyncio.sleep(0.02)
        assert served_by == {"long turn": "a", "hello": "b"}
        assert not doorbell.unanswered()
        busy.set()
        await worker_a.stop()
        await worker_b.stop()
    asyncio.run(scenario())


def test_a_full_server_serves_waiting_conversations_before_new_ones(make_store):
    """A conversation left waiting while the server was full is not overtaken by one that arrives
    the moment a place frees up (at saturation, newcomers kept overtaking: p95 of 4.5-6.8 s)."""
    async def scenario():
        busy, order = asyncio.Event(), []

        async def handle(queued: Queued) -> None:
            order.append(queued.event.text)
            if queued.event.text == "first":
                await busy.wait()

        queue = InboundQueue(make_store(30), SEAL, handle, concurrency=1, poll_seconds=30)
        queue.start()
        await queue.put([event("sender-1", "first")])
        await queue.put([event("sender-2", "waiting")])
        busy.set()
        while "sender-1" in queue.serving:
            await asyncio.sleep(0)
        await queue.put([event("sender-3", "newcomer")])
        for _ in range(200):
            if len(order) == 3:
                break
            await asyncio.sleep(0.02)
        await queue.stop()
        assert order == ["first", "waiting", "newcomer"]
    asyncio.run(scenario())


def test_a_ring_nobody_answered_says_no_worker_is_free():
    doorbell = Doorbell()
    assert not doorbell.unanswered()
    doorbell.ring()
    assert doorbell.unanswered()


def test_a_sender_is_served_by_one_server_at_a_time(make_store):
    async def scenario():
        store_a, store_b = make_store(5), make_store(5)
        stored, first = await store_a.enqueue("s", [("key-1", "one")], "server-a")
        assert stored == 1 and first is not None and first[1:] == ("one", 1)
        assert await store_b.enqueue("s", [("key-2", "two")], "server-b") == (1, None)  # a serves s
        assert await store_b.claim("server-b") is None
        assert (await store_a.finish("s", "server-a", first[0]))[1] == "two"  # a hands itself the next
        await store_a.release("s", "server-a")
        sender, item = await store_b.claim("server-b")
        assert (sender, item[1], item[2]) == ("s", "two", 2)  # started before: the turn may have happened
        assert await store_b.finish("s", "server-b", item[0]) is None  # empty: lease released
        assert (await store_a.enqueue("s", [("key-3", "three")], "server-a"))[1][1] == "three"
    asyncio.run(scenario())


def test_a_redelivered_message_is_stored_once(make_store):
    async def scenario():
        store = make_store(5)
        assert (await store.enqueue("s", [("key-1", "one"), ("key-2", "two")], None))[0] == 2
        assert await store.enqueue("s", [("key-1", "one again")], "server-a") == (0, None)
        assert (await store.enqueue("s", [("key-2", "two"), ("key-3", "three")], None))[0] == 1
        sender, item = await store.claim("server-a")
        texts = []
        while item is not None:
            texts.append(item[1])
            item = await store.finish(sender, "server-a", item[0])
        assert texts == ["one", "two", "three"]
    asyncio.run(scenario())


def test_a_server_that_lost_the_lease_removes_what_it_handled_and_stops(make_store):
    async def scenario():
        store_a, store_b = make_store(0.2), make_store(5)
        _, first = await store_a.enqueue("s", [("key-1", "one"), ("key-2", "two")], "server-a")
        await asyncio.sleep(0.3)  # a stalls past its lease; b takes the conversation over
        _, item = await store_b.claim("server-b")
        assert item[1] == "one" and item[2] == 2
        assert await store_a.finish("s", "server-a", first[0]) is None  # a handled "one": gone, a stops
        assert (await store_b.finish("s", "server-b", item[0]))[1] == "two"
    asyncio.run(scenario())


class DyingStore:
    """A server's view of the store that stops answering when the server 'dies'."""

    def __init__(self, store):
        self.store, self.dead = store, False

    def __getattr__(self, name):
        method = getattr(self.store, name)

        async def call(*args):
            if self.dead:
                raise QueueUnavailable("server gone")
            return await method(*args)
        return call


def test_messages_of_a_server_that_dies_mid_turn_are_handled_by_another(make_store):
    async def scenario():
        dying = DyingStore(make_store(1.0))
        started = asyncio.Event()
        handled: list[tuple[str, int]] = []

        async def hang(queued: Queued) -> None:
            started.set()
            dying.dead = True
            await asyncio.sleep(3600)  # the process froze or was killed mid-turn

        async def record(queued: Queued) -> None:
            handled.append((queued.event.text, queued.attempts))

        first = InboundQueue(dying, SEAL, hang, lease_seconds=1.0, poll_seconds=0.05)
        first.start()
        await first.put([event("s", "first"), event("s", "second")])
        await asyncio.wait_for(started.wait(), 5)
        second = InboundQueue(make_store(1.0), SEAL, record, lease_seconds=1.0, poll_seconds=0.1)
        second.start()
        for _ in range(100):
            if len(handled) == 2:
                break
            await asyncio.sleep(0.05)
        await second.stop()
        for task in first.serving.values():
            task.cancel()
        with contextlib.suppress(QueueUnavailable):
            await first.stop()
        return handled
    assert asyncio.run(scenario()) == [("first", 2), ("second", 1)]


def test_redis_down_means_queue_unavailable(tmp_path):
    async def scenario():
        store = RedisStore("redis://127.0.0.1:1/0", 5)
        with pytest.raises(QueueUnavailable, match="Redis"):
            await store.enqueue("s", [("key", "x")], None)
        with pytest.raises(QueueUnavailable):
            await store.check()
    asyncio.run(scenario())


def test_sqlite_queue_is_empty_after_handling(sqlite_store, tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    asyncio.run(run_servers([sqlite_store(5)], [(0, event("s", f"m{i}")) for i in range(5)]))
    with get_session_factory(url).begin() as session:
        assert session.query(InboundMessage).count() == 0
        assert session.query(InboundLease).count() == 0
        assert session.query(ProcessedMessage).count() == 5  # the keys stay: redeliveries are dropped


def test_redis_keeps_each_senders_messages_in_a_stream_and_nothing_after_handling(redis_store):
    async def scenario():
        store = redis_store(5)
        waiting = [event("s", f"waiting {i}") for i in range(3)]
        await store.enqueue("s", [(e.message_key, SEAL.seal(e)) for e in waiting], None)
        client = redis.Redis.from_url(REDIS_URL)
        assert client.type(f"{store.prefix}s:s") == b"stream"
        stored = [SEAL.open(fields[b"p"].decode()).text for _, fields in client.xrange(f"{store.prefix}s:s")]
        assert stored == ["waiting 0", "waiting 1", "waiting 2"]
        await store.close()
        handled = await run_servers([redis_store(5)], [(0, event("t", f"m{i}")) for i in range(4)])
        return client, store.prefix, handled
    client, prefix, handled = asyncio.run(scenario())
    assert [text for _, who, text in handled if who == "s"] == ["waiting 0", "waiting 1", "waiting 2"]
    left = {key.decode()[len(prefix):].split(":")[0] for key in client.scan_iter(f"{prefix}*")}
    assert left == {"seen"}  # handled messages, emptied streams, leases and the ready set are gone


def test_messages_left_in_redis_lists_by_an_earlier_version_are_handled_in_order(redis_store):
    """Before streams, each sender's messages waited in a list; none is lost in the upgrade."""
    store = redis_store(5)
    client = redis.Redis.from_url(REDIS_URL)
    entries = [{"id": f"old{i}", "p": SEAL.seal(event("s", f"waiting {i}"))} for i in range(3)]
    client.rpush(f"{store.prefix}q:s", *[json.dumps(entry) for entry in entries])
    client.zadd(f"{store.prefix}ready", {"s": time.time()})
    client.set(f"{store.prefix}started:s", "old0")  # a server stopped while handling the first

    async def scenario():
        handled: list[tuple[str, int]] = []

        async def record(queued: Queued) -> None:
            handled.append((queued.event.text, queued.attempts))
        queue = InboundQueue(store, SEAL, record, poll_seconds=0.05)
        queue.start()
        await queue.put([event("s", "after the upgrade")])
        for _ in range(100):
            if len(handled) == 4:
                break
            await asyncio.sleep(0.05)
        await queue.stop()
        return handled
    assert asyncio.run(scenario()) == [("waiting 0", 2), ("waiting 1", 1), ("waiting 2", 1),
                                       ("after the upgrade", 1)]
    assert not client.exists(f"{store.prefix}q:s", f"{store.prefix}s:s")
