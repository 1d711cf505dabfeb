"""Confirmed reports kept on disk while the database is unreachable, until it returns.

One JSON file per draft under `<SATARK_VAR_DIR>/spool/`, named by the keyed hash of the draft key,
so a retried submit finds the file it wrote before and answers with the same report number. A file
holds what the database would hold (the report's fields and keyed hashes, never the draft key,
receipt code or anything about the sender); it is owner-only and shredded once stored.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from satark.retention import shred
from satark.settings import get_settings

log = logging.getLogger(__name__)

SUFFIX = ".json"


def spool_dir() -> Path:
    return get_settings().var_dir / "spool"


def pending() -> list[Path]:
    """Spooled reports, oldest first; one listdir when there are none."""
    try:
        names = [name for name in os.listdir(spool_dir()) if name.endswith(SUFFIX)]
    except FileNotFoundError:
        return []
    except OSError as error:  # unreadable spool: storing new reports must go on
        log.error("spool folder unreadable (%s)", error.strerror)
        return []
    paths = [spool_dir() / name for name in names]
    return sorted(paths, key=lambda path: path.stat().st_mtime if path.exists() else 0)


def path_for(draft_hash: str) -> Path:
    return spool_dir() / f"{draft_hash}{SUFFIX}"


def keep(draft_hash: str, record: dict) -> dict:
    """Write `record` durably for this draft once; the record already there when it was kept before.

    The file appears complete or not at all (temporary file, fsync, hard link); the link fails when
    a concurrent or earlier submit of the same draft was first, and its record wins.
    """
    folder = spool_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # a mounted volume keeps its own mode
    target = path_for(draft_hash)
    if target.exists():
        return read(target)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")  # created 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record, stream)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, target)
        except FileExistsError:
            return read(target)
        _fsync_folder(folder)
        return record
    finally:
        os.unlink(temporary)


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def remove(path: Path) -> None:
    """Overwrite and unlink a stored report's file (citizen text does not linger on disk)."""
    shred(path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
