"""Deleting what is no longer needed: `python -m satark.retention` (`make retention`; `make run` daily).

Ages come from settings (`RETENTION_*` in .env.example). Deleted:

- conversations (tracker store events) with no activity for `RETENTION_TRACKER_DAYS`;
- evidence never attached to a report (cancelled drafts, replaced files), unfinished downloads and
  quarantined files, older than `RETENTION_ORPHAN_EVIDENCE_HOURS`;
- keys of processed WhatsApp messages older than `RETENTION_PROCESSED_MESSAGE_DAYS`;
- the evidence of reports closed or rejected more than `RETENTION_CLOSED_REPORT_EVIDENCE_DAYS` ago.

Files are overwritten before they are unlinked. Remaining conversations are redacted by the
tracker-store rules (`satark.tracker_store.scrub_all`), which also migrates conversations stored
before those rules existed. Reports kept in the spool while the database was unreachable are
stored first (`satark.spool`). Only counts are logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from satark.db.models import EvidenceItem, ProcessedMessage, Report
from satark.db.session import get_session_factory
from satark.logs import configure_logging
from satark.media import INCOMING_PREFIX, QUARANTINE_FOLDER
from satark.preflight import harden_process
from satark.settings import PROJECT_ROOT, get_settings

log = logging.getLogger(__name__)

CLOSED_STATUSES = ("closed", "rejected")


@dataclass
class Counts:
    conversations: int = 0
    conversation_events: int = 0
    events_redacted: int = 0
    orphan_evidence: int = 0
    stray_files: int = 0
    processed_messages: int = 0
    closed_report_evidence: int = 0
    spooled_reports_stored: int = 0


def shred(path: Path) -> bool:
    """Overwrite a file with zeros, flush it to disk, then unlink it; False when it was already gone."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as handle:
            remaining = size
            while remaining > 0:
                step = min(remaining, 1024 * 1024)
                handle.write(b"\0" * step)
                remaining -= step
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _delete_items(session, items: list[EvidenceItem], media_dir: Path) -> int:
    for item in items:
        if item.stored_name:
            shred(media_dir / item.stored_name)
        session.delete(item)
    return len(items)


def purge_evidence(factory: sessionmaker, media_dir: Path, now: datetime, counts: Counts) -> None:
    ages = get_settings().retention
    orphan_cutoff = now - timedelta(hours=ages.orphan_evidence_hours)
    closed_cutoff = now - timedelta(days=ages.closed_report_evidence_days)
    with factory.begin() as session:
        orphans = session.execute(sa.select(EvidenceItem).where(
            EvidenceItem.report_id.is_(None), EvidenceItem.created_at < orphan_cutoff)).scalars().all()
        counts.orphan_evidence += _delete_items(session, orphans, media_dir)
        closed = session.execute(sa.select(EvidenceItem).join(Report).where(
            Report.status.in_(CLOSED_STATUSES), Report.updated_at < closed_cutoff)).scalars().all()
        counts.closed_report_evidence += _delete_items(session, closed, media_dir)
        known = set(session.execute(sa.select(EvidenceItem.stored_name)).scalars())
    # Files no row points to: unfinished downloads, quarantined files, files of deleted rows.
    cutoff_seconds = time.time() - ages.orphan_evidence_hours * 3600
    for folder in (media_dir, media_dir / QUARANTINE_FOLDER):
        for path in folder.glob("*") if folder.is_dir() else []:
            stray = path.name.startswith(INCOMING_PREFIX) or folder.name == QUARANTINE_FOLDER or path.name not in known
            if path.is_file() and stray and path.stat().st_mtime < cutoff_seconds and shred(path):
                counts.stray_files += 1


def purge_processed_messages(factory: sessionmaker, now: datetime, counts: Counts) -> None:
    cutoff = now - timedelta(days=get_settings().retention.processed_message_days)
    with factory.begin() as session:
        result = session.execute(sa.delete(ProcessedMessage).where(ProcessedMessage.received_at < cutoff))
        counts.processed_messages += result.rowcount or 0


def tracker_engine(endpoints_file: Path) -> sa.engine.Engine | None:
    """The tracker store's database, as endpoints.yml configures it (None when it is not SQL)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.utils.io import read_config_file

    config = (read_config_file(str(endpoints_file)) or {}).get("tracker_store") or {}
    kind = str(config.get("type") or "").lower()
    if kind == "satark.rasa_stores.environmenttrackerstore":
        from satark.deployment import get_deployment_settings

        return _tracker_engine(get_deployment_settings().tracker_store_url)
    if kind not in ("sql", "satark.tracker_store.redactingsqltrackerstore"):
        return None
    db = str(config.get("db") or "rasa.db")
    dialect = config.get("dialect") or "sqlite"
    if dialect == "sqlite":
        db = str(db if Path(db).is_absolute() else PROJECT_ROOT / db)
        if not Path(db).exists():
            return None  # Rasa has not created it yet: no conversation to delete
    url = SQLTrackerStore.get_db_url(dialect, config.get("url"), config.get("port"), db, config.get("username"),
                                     config.get("password"), None, config.get("query"))
    return _tracker_engine(url)


def _tracker_engine(url: str) -> sa.engine.Engine:
    """Deletes in a SQLite tracker store zero the freed pages, as the Rasa servers' connections do."""
    from satark.tracker_store import prepare_sqlite_connection

    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", prepare_sqlite_connection)
    return engine


def purge_trackers(engine: sa.engine.Engine, now: datetime, counts: Counts) -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    from satark.tracker_store import empty_write_ahead_log, scrub_all

    events = SQLTrackerStore.SQLEvent.__table__
    if not sa.inspect(engine).has_table(events.name):
        return
    cutoff = (now - timedelta(days=get_settings().retention.tracker_days)).timestamp()
    with engine.begin() as connection:
        stale = sa.select(events.c.sender_id).group_by(events.c.sender_id).having(
            sa.func.max(events.c.timestamp) < cutoff)
        senders = connection.execute(stale).scalars().all()
        for start in range(0, len(senders), 500):
            batch = senders[start:start + 500]
            result = connection.execute(sa.delete(events).where(events.c.sender_id.in_(batch)))
            counts.conversation_events += result.rowcount or 0
        counts.conversations += len(senders)
    counts.events_redacted += scrub_all(engine)
    with engine.connect() as connection:
        if not empty_write_ahead_log(connection):
            log.warning("the tracker store's write-ahead log is in use; it is emptied on the next pass")


def run(endpoints_file: Path | None = None, factory: sessionmaker | None = None,
        now: datetime | None = None) -> Counts:
    """One retention pass over the database, the media folder and the tracker store."""
    now = now or datetime.now(timezone.utc)
    factory = factory or get_session_factory()
    counts = Counts()
    from satark.reports import replay_spool  # here: satark.spool imports this module

    counts.spooled_reports_stored = replay_spool(factory)
    purge_evidence(factory, get_settings().media_dir, now, counts)
    purge_processed_messages(factory, now, counts)
    endpoints_file = endpoints_file or Path(os.environ.get("RASA_ENDPOINTS") or PROJECT_ROOT / "endpoints.yml")
    engine = tracker_engine(endpoints_file) if endpoints_file.exists() else None
    if engine is not None:
        try:
            purge_trackers(engine, now, counts)
        finally:
            engine.dispose()
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Delete data older than the retention settings.")
    parser.add_argument("--endpoints", type=Path, default=None, help="Rasa endpoints file (tracker store)")
    parser.add_argument("--every-hours", type=float, default=0,
                        help="keep running, one pass every N hours (scripts/run.sh: 24)")
    args = parser.parse_args(argv)
    harden_process()
    configure_logging(logging.INFO)
    while True:
        try:
            counts = run(args.endpoints)
            log.info("retention: %s", ", ".join(f"{name.replace('_', ' ')} {value}"
                                                for name, value in vars(counts).items()))
        except Exception as error:  # a scheduled pass must not end the schedule
            if not args.every_hours:
                raise
            log.error("retention pass failed (%s); next pass as scheduled", type(error).__name__)
        if not args.every_hours:
            return
        time.sleep(args.every_hours * 3600)


if __name__ == "__main__":
    main()
