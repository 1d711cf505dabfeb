"""Links that must not exist: receipt codes and draft keys in the database or the conversation store,
report numbers that count reports, guessing without limits, data kept for ever."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.status import ActionCheckStatus, ActionSaveFollowup
from satark import media, reports, retention
from satark.db.migrate import alembic_config
from satark.db.models import EvidenceItem, ProcessedMessage, Report
from satark.db.session import get_session_factory
from satark.receipts import ALPHABET, draft_key_hash
from satark.settings import PROJECT_ROOT, get_receipt_secret
from satark.tracker_store import RedactingSQLTrackerStore, scrub_all
from tests.test_actions import make_tracker, responses, run
from tests.test_data_layer import make_draft

DOMAIN = Domain.from_path(str(PROJECT_ROOT / "domain.yml"))
DETAILS = "supplier calls from 9876543210, truck UP61T1234, GZP-2026 permit PQRSTUVWXYZA"


# -- public numbers --------------------------------------------------------------------------------

def test_public_numbers_are_random_per_district(runtime):
    numbers = [reports.submit_report(make_draft(district_code=d)).public_number for d in ["GZP"] * 12 + ["JNP"] * 3]
    year = datetime.now(timezone.utc).year
    for number in numbers:
        assert re.fullmatch(rf"(GZP|JNP)-{year}-[{ALPHABET}]{{5}}", number)
    assert len(set(numbers)) == len(numbers)
    suffixes = [n.rsplit("-", 1)[1] for n in numbers]
    assert "00001" not in suffixes and sorted(suffixes) != suffixes  # no counter shows through


def test_a_number_already_taken_is_drawn_again(runtime, monkeypatch):
    first = reports.submit_report(make_draft()).public_number
    draws = iter([first, first, "GZP-2099-ZZZZZ"])
    monkeypatch.setattr(reports, "new_public_number", lambda district, year: next(draws))
    assert reports.submit_report(make_draft()).public_number == "GZP-2099-ZZZZZ"


# -- wrong codes, wherever a code is checked --------------------------------------------------------

def test_status_and_follow_up_refuse_codes_once_the_conversation_is_locked(runtime):
    receipt = reports.submit_report(make_draft())
    limit = reports.get_settings().max_wrong_codes
    for _ in range(limit):
        assert reports.report_status("AAAA-BBBB-CCCC", sender_id="guesser") is None
    with pytest.raises(reports.CodeLocked):
        reports.report_status(receipt.receipt_code, sender_id="guesser")  # even the right code waits
    with pytest.raises(reports.CodeLocked):
        reports.add_followup(receipt.receipt_code, "more", sender_id="guesser")
    assert reports.report_status(receipt.receipt_code, sender_id="someone-else").public_number


def test_status_and_follow_up_actions_count_and_respect_the_limit(runtime):
    """A code slot set directly (Rasa's HTTP API, an injected event) goes through the same limit."""
    guesses = [make_tracker({"receipt_code": f"AAAA-BBBB-CC{c}{c}", "language": "en"}, sender="api-guesser")
               for c in "CDEFGH"]
    seen = [responses(run(ActionCheckStatus(), tracker)[0])[0] for tracker in guesses[:5]]
    assert seen == ["utter_code_not_found"] * 5
    assert responses(run(ActionCheckStatus(), guesses[5])[0]) == ["utter_code_throttled"]
    followup = make_tracker({"receipt_code": "AAAA-BBBB-CCJJ", "followup_text": "x"}, sender="api-guesser")
    assert responses(run(ActionSaveFollowup(), followup)[0]) == ["utter_code_throttled"]


# -- the draft key and the receipt code -------------------------------------------------------------

def test_existing_draft_keys_are_hashed_by_the_migration(tmp_path, monkeypatch):
    from alembic import command

    from tests.conftest import clear_caches

    url = f"sqlite:///{tmp_path / 'old.db'}"
    monkeypatch.setenv("SATARK_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SATARK_DEV_MODE", "true")
    monkeypatch.delenv("RECEIPT_SECRET", raising=False)
    clear_caches()
    command.upgrade(alembic_config(url), "0001")
    now = datetime.now(timezone.utc).isoformat()
    with sqlite3.connect(tmp_path / "old.db") as connection:
        connection.execute(
            "INSERT INTO reports (public_number, draft_key, receipt_hash, category, district_code, range_code,"
            " description, place, incident_time, details, language, urgent, status, created_at, updated_at)"
            " VALUES ('GZP-2026-00001', 'plain-draft-key-0001', 'h', 'drugs', 'GZP', 'VNS', 'd', 'p', 't', 'x',"
            " 'en', 0, 'new', ?, ?)", (now, now))
    command.upgrade(alembic_config(url), "head")
    with sqlite3.connect(tmp_path / "old.db") as connection:
        [(stored,)] = connection.execute("SELECT draft_key FROM reports").fetchall()
    assert stored == draft_key_hash("plain-draft-key-0001", get_receipt_secret())
    clear_caches()


def store_with(tmp_path) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))


def tracker_bytes(tmp_path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("tracker.db*"))


def test_tracker_store_keeps_secrets_only_while_needed(tmp_path):
    store = store_with(tmp_path)
    draft_key, code, number = uuid.uuid4().hex, "K7QM-4XPA-9TRC", "GZP-2026-7K3QX"
    tracker = DialogueStateTracker.from_events("conv", [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("gaon me sharab", {"name": "report_illegal_liquor", "confidence": 1.0}),
        SlotSet("draft_id", draft_key), SlotSet("description", "gaon me sharab"), SlotSet("details", DETAILS),
    ], DOMAIN.slots)
    asyncio.run(store.save(tracker))
    assert draft_key.encode() in tracker_bytes(tmp_path)  # the draft is open: the key is still needed
    tracker.update_with_events([
        BotUttered(f"Report number: {number}\nSecret receipt code: *{code}*",
                   metadata={"utter_action": "utter_report_submitted", "receipt_code": code, "public_number": number}),
        SlotSet("draft_id", None),
        UserUttered(f"status {code.lower()}", {"name": "check_status", "confidence": 1.0},
                    [{"entity": "receipt_code", "value": code, "start": 7, "end": 21}]),
        SlotSet("receipt_code", code),
        BotUttered(f"Report {number}: received"), SlotSet("receipt_code", None),
        UserUttered("add info k7qm4xpa9trc", {"name": "add_information", "confidence": 1.0}),
        SlotSet("receipt_code", code),
    ], DOMAIN)
    asyncio.run(store.save(tracker))
    stored = tracker_bytes(tmp_path)
    for secret in (draft_key, number, "k7qm4xpa9trc", "k7qm-4xpa-9trc"):
        assert secret.encode() not in stored
    assert stored.count(code.encode()) == 1  # only the follow-up form's open slot
    restored = asyncio.run(store.retrieve("conv"))
    assert restored.get_slot("receipt_code") == code and restored.get_slot("draft_id") is None
    assert restored.get_slot("description") == "gaon me sharab"
    assert restored.get_slot("details") == DETAILS  # the report's own content is never altered
    tracker.update(SlotSet("receipt_code", None))
    asyncio.run(store.save(tracker))
    assert code.encode() not in tracker_bytes(tmp_path)


def test_conversations_stored_before_the_redacting_store_are_scrubbed(tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore

    plain = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    tracker = DialogueStateTracker.from_events("old", [
        UserUttered("status K7QM-4XPA-9TRC", {"name": "check_status", "confidence": 1.0}),
        SlotSet("draft_id", "0123456789abcdef0123456789abcdef"), SlotSet("draft_id", None),
        BotUttered("Secret receipt code: *K7QM-4XPA-9TRC*")], DOMAIN.slots)
    asyncio.run(plain.save(tracker))
    assert b"K7QM-4XPA-9TRC" in tracker_bytes(tmp_path)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    assert scrub_all(engine) == 3
    engine.dispose()
    with sqlite3.connect(tmp_path / "tracker.db") as connection:
        data = " ".join(row[0] for row in connection.execute("SELECT data FROM events"))
    assert "K7QM" not in data and "0123456789abcdef" not in data


# -- retention -------------------------------------------------------------------------------------

def test_retention_deletes_what_is_no_longer_needed_and_keeps_the_rest(runtime, tmp_path, monkeypatch):
    media_dir = runtime / "media"
    factory = get_session_factory()
    photo = media.store(media_fixtures_photo(), "image", "image/jpeg")  # a fresh draft's photo: kept
    old_orphan, closed_item = (media.store(media_fixtures_photo(), "image", "image/jpeg") for _ in range(2))
    receipt = reports.submit_report(make_draft(evidence_ids=(closed_item,)))
    long_ago = datetime.now(timezone.utc) - timedelta(days=400)
    with factory.begin() as session:
        session.get(EvidenceItem, old_orphan).created_at = long_ago
        session.execute(sa.update(Report).values(status="closed", updated_at=long_ago))
        session.add(ProcessedMessage(message_key="k" * 64, received_at=long_ago))
        session.add(ProcessedMessage(message_key="n" * 64))
        names = {item.id: item.stored_name for item in session.execute(sa.select(EvidenceItem)).scalars()}
    stray = media_dir / f"{media.INCOMING_PREFIX}crashed"
    stray.write_bytes(b"partial download")
    os.utime(stray, (time.time() - 5 * 86400,) * 2)
    shredded = []
    original_shred = retention.shred
    monkeypatch.setattr(retention, "shred", lambda path: (shredded.append(path.read_bytes()[:4]),
                                                          original_shred(path))[1])
    endpoints = tmp_path / "endpoints.yml"
    store = RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    for sender, age in (("stale", 90), ("fresh", 0)):
        tracker = DialogueStateTracker.from_events(sender, [UserUttered(f"hi from the {sender} conversation",
                                                                        {"name": "greet"})], DOMAIN.slots)
        tracker.events[0].timestamp = time.time() - age * 86400
        asyncio.run(store.save(tracker))
    endpoints.write_text(yaml.safe_dump({"tracker_store": {"type": "satark.tracker_store.RedactingSQLTrackerStore",
                                                           "dialect": "sqlite", "db": str(tmp_path / "tracker.db")}}))

    counts = retention.run(endpoints)

    assert (counts.orphan_evidence, counts.closed_report_evidence, counts.processed_messages) == (1, 1, 1)
    assert counts.stray_files == 1 and counts.conversations == 1
    assert not (media_dir / names[old_orphan]).exists() and not (media_dir / names[closed_item]).exists()
    assert (media_dir / names[photo]).exists() and not stray.exists()
    assert sorted(chunk[:2] for chunk in shredded) == [b"pa", b"\xff\xd8", b"\xff\xd8"]  # 1 download, 2 photos
    with sqlite3.connect(tmp_path / "tracker.db") as connection:
        senders = {row[0] for row in connection.execute("SELECT DISTINCT sender_id FROM events")}
    assert senders == {"fresh"}
    stored = tracker_bytes(tmp_path)  # the file, and the write-ahead log the retention pass emptied
    assert b"the stale conversation" not in stored and b"the fresh conversation" in stored
    assert (tmp_path / "tracker.db-wal").stat().st_size == 0
    with factory.begin() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(ProcessedMessage)).scalar_one() == 1
        assert session.execute(sa.select(Report)).scalar_one().public_number == receipt.public_number


def test_shred_overwrites_before_unlinking(tmp_path):
    path = tmp_path / "evidence.jpg"
    path.write_bytes(b"secret bytes" * 100)
    handle = path.open("rb")  # keeps the inode readable after the unlink
    assert retention.shred(path) and not path.exists()
    assert handle.read() == b"\0" * 1200
    handle.close()


def media_fixtures_photo() -> bytes:
    from tests.support.media_fixtures import photo

    return photo()
