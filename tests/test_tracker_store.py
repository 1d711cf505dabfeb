"""The redacting tracker store reads and writes what Rasa's SQL tracker store does, with a pooled
SQLite engine (satark.tracker_store)."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from satark.db import session as db_session
from satark.tracker_store import RedactingSQLTrackerStore
from tests.test_rasa_speedups import DOMAIN, conversation


def test_the_sqlite_tracker_store_keeps_its_connections_with_secure_delete_and_wal(tmp_path):
    store = RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    connects = []
    sa.event.listen(store.engine, "connect", lambda connection, _record: connects.append(connection))
    tracker = conversation()
    asyncio.run(store.save(tracker))
    for _ in range(3):
        restored = asyncio.run(store.retrieve("speedups"))
    assert len(connects) == 1
    with store.session_scope() as session:
        assert session.execute(sa.text("PRAGMA secure_delete")).scalar() == 1
        assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.get_bind() is store.engine
    plain = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "plain.db"))
    asyncio.run(plain.save(tracker))
    assert list(restored.events) == list(asyncio.run(plain.retrieve("speedups")).events)
    assert store.engine in db_session._ENGINES  # a forked Sanic worker drops the parent's connections


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_opens_its_own_tracker_store_connection(tmp_path):
    store = RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    asyncio.run(store.save(conversation()))
    inherited = store.engine.pool.checkedin()
    assert inherited == 1
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        fresh = store.engine.pool.checkedin() == 0
        restored = asyncio.run(store.retrieve("speedups"))
        os._exit(0 if fresh and restored is not None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def sessions_of_events() -> DialogueStateTracker:
    """Three conversation sessions (the store reads the latest), one with a secret slot."""
    events = []
    for session in range(3):
        events += [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                   UserUttered(f"session {session}", {"name": "greet", "confidence": 0.9}),
                   SlotSet("draft_id", f"{session:032x}"), BotUttered(f"hello {session}")]
    return DialogueStateTracker.from_events("sessions", events, DOMAIN.slots)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> RedactingSQLTrackerStore:
    if request.param == "sqlite":
        return RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    request.getfixturevalue("postgres")
    return RedactingSQLTrackerStore(domain=DOMAIN, host=os.environ["DATABASE_URL"])


def test_the_store_reads_counts_and_writes_the_rows_rasa_does(store):
    plain = SQLTrackerStore(domain=DOMAIN, host=str(store.engine.url))  # same table, another sender
    for sender, writer in (("ours", store), ("rasas", plain)):
        tracker = sessions_of_events()
        tracker.sender_id = sender
        half = DialogueStateTracker.from_events(sender, list(tracker.events)[:len(tracker.events) // 2], DOMAIN.slots)
        asyncio.run(writer.save(half))
        with store.session_scope() as session:
            assert list(store._additional_events(session, tracker)) == \
                list(SQLTrackerStore._additional_events(store, session, tracker))
        asyncio.run(writer.save(tracker))
    for all_sessions in (False, True):
        ours = asyncio.run(store._retrieve("ours", all_sessions))
        rasas = asyncio.run(SQLTrackerStore._retrieve(store, "ours", all_sessions))
        assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
    assert asyncio.run(store.retrieve("nobody")) is None
    with store.session_scope() as session:
        rows = {sender: [(row.type_name, row.timestamp, row.intent_name, row.action_name) for row in session.query(
            SQLTrackerStore.SQLEvent).filter_by(sender_id=sender).order_by(SQLTrackerStore.SQLEvent.id)]
            for sender in ("ours", "rasas")}
    assert len(rows["ours"]) > len(sessions_of_events().events) // 2 and len(rows["ours"]) == len(rows["rasas"])
    assert [row[:1] + row[2:] for row in rows["ours"]] == [row[:1] + row[2:] for row in rows["rasas"]]
    plain.engine.dispose()
    store.engine.dispose()


def test_a_replaced_secret_leaves_the_write_ahead_log_once_no_one_reads_it(tmp_path):
    store = RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    tracker = DialogueStateTracker.from_events("wal", [SlotSet("draft_id", "first-draft-key-0123456789")],
                                               DOMAIN.slots)
    asyncio.run(store.save(tracker))
    reader = sqlite3.connect(tmp_path / "tracker.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()  # holds a snapshot: no checkpoint can finish
    tracker.update(SlotSet("draft_id", None))
    asyncio.run(store.save(tracker))

    def stored() -> bytes:
        return b"".join(path.read_bytes() for path in tmp_path.glob("tracker.db*"))
    assert b"first-draft-key-0123456789" in stored()  # the log could not be emptied yet
    reader.execute("COMMIT")
    tracker.update(SlotSet("language", "en"))
    asyncio.run(store.save(tracker))  # the next save empties it
    assert b"first-draft-key-0123456789" not in stored()
    assert (tmp_path / "tracker.db-wal").stat().st_size == 0
