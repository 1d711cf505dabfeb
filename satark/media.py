"""Media evidence: download at once, verify, strip identifying metadata, store under a random name.

WhatsApp media URLs expire within minutes, so files are fetched while the message is handled.
What is stored is what the police will see: no original file name, no EXIF (GPS, camera, owner),
no audio/video container tags. Each file becomes an `EvidenceItem` without a report; the
conversation attaches it to the report it belongs to.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import importlib
import io
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import sessionmaker

from satark import queries
from satark.db.models import EvidenceItem
from satark.db.session import get_session_factory
from satark.settings import get_settings

log = logging.getLogger(__name__)

MB = 1024 * 1024
# WhatsApp Cloud API limits per media type.
MAX_BYTES = {"image": 5 * MB, "audio": 16 * MB, "video": 16 * MB, "document": 100 * MB}
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
    "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac",
    "audio/amr": ".amr", "video/mp4": ".mp4", "video/3gpp": ".3gp",
    "application/pdf": ".pdf", "text/plain": ".txt",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}
ACCEPTED = {
    "image": {"image/jpeg", "image/png", "image/webp"},
    "audio": {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
    "video": {"video/mp4", "video/3gpp"},
    # A photo or video sent "as a document" keeps its metadata on WhatsApp: stripped all the same.
    "document": set(EXTENSIONS),
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
FFMPEG_TIMEOUT_SECONDS = 120
STT_ENV = "SPEECH_TO_TEXT"

Transcriber = Callable[[Path, str], "str | None"]


class MediaError(Exception):
    """Why a file could not be kept: `not_found`, `download`, `too_large`, `type` or `checksum`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class MediaSource(Protocol):
    """Where media come from (the Graph API client)."""

    async def media_info(self, media_id: str) -> dict: ...

    async def download(self, url: str, max_bytes: int) -> bytes: ...


@dataclass(frozen=True)
class IncomingMedia:
    """A media reference from a WhatsApp message (`voice` marks a recorded voice note)."""

    kind: str
    media_id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    voice: bool = False


def base_mime(mime_type: str | None) -> str:
    """`audio/ogg; codecs=opus` → `audio/ogg`."""
    return (mime_type or "").split(";", 1)[0].strip().lower()


def _digest_bytes(value: str) -> bytes:
    """WhatsApp sends sha256 as hex in some places and as base64 in others."""
    value = value.strip()
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("checksum", "unreadable sha256") from None


def _size(info: dict) -> int:
    try:
        return int(info.get("file_size") or 0)
    except (TypeError, ValueError):
        return 0


def find_ffmpeg() -> str | None:
    """`FFMPEG_BINARY`, else ffmpeg on PATH, else the one shipped with imageio-ffmpeg."""
    configured = get_settings().ffmpeg_binary
    if configured:
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def load_transcriber() -> Transcriber | None:
    """The speech-to-text hook named by `SPEECH_TO_TEXT` (`module:function`), off when unset."""
    target = get_settings().speech_to_text
    if not target:
        return None
    module_name, _, function_name = target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


async def fetch(source: MediaSource, media: IncomingMedia) -> tuple[bytes, str]:
    """Download and verify one file; an expired URL is resolved again once."""
    limit = MAX_BYTES[media.kind]
    for attempt in (1, 2):
        info = await source.media_info(media.media_id)
        mime = base_mime(info.get("mime_type") or media.mime_type)
        if mime not in ACCEPTED[media.kind]:
            raise MediaError("type", mime or "unknown")
        if _size(info) > limit:
            raise MediaError("too_large", f"{info.get('file_size')} bytes")
        try:
            data = await source.download(info["url"], limit)
            break
        except MediaError as error:
            if error.reason != "not_found" or attempt == 2:
                raise
            log.info("media URL expired before download; resolving it again")
    expected = info.get("sha256") or media.sha256
    if not expected or not hmac.compare_digest(hashlib.sha256(data).digest(), _digest_bytes(expected)):
        raise MediaError("checksum", "sha256 does not match")
    return data, mime


def strip_image(data: bytes, mime: str) -> bytes:
    """Re-encode pixels only: EXIF (GPS, device, owner), XMP, comments and text chunks are gone.

    The orientation is applied first, so the stored picture looks as the citizen saw it.
    """
    try:
        with Image.open(io.BytesIO(data)) as original:
            original.load()
            image = ImageOps.exif_transpose(original)
    except (UnidentifiedImageError, OSError) as error:
        raise MediaError("type", "not a readable image") from error
    fmt = PILLOW_FORMATS[mime]
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    target_mode = "RGB" if fmt == "JPEG" or not has_alpha else "RGBA"
    if image.mode == "L" and fmt != "WEBP":
        target_mode = "L"
    pixels = image.convert(target_mode)
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    options = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}, "PNG": {}}[fmt]
    clean.save(out, format=fmt, **options)
    return out.getvalue()


def strip_container(path: Path, ffmpeg: str) -> bool:
    """Rewrite an audio/video file without container tags, chapters or data tracks (streams copied).

    Only the audio and video streams are kept: phones put GPS tracks in data streams.
    """
    stripped = path.with_name(f"{path.stem}.clean{path.suffix}")
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(path),
        "-map", "0:v?", "-map", "0:a?", "-map_metadata", "-1", "-map_chapters", "-1",
        "-c", "copy", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        str(stripped),
    ]
    try:
        result = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
            command, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("ffmpeg could not run (%s); evidence stored with its metadata", type(error).__name__)
        stripped.unlink(missing_ok=True)
        return False
    if result.returncode != 0 or not stripped.exists() or stripped.stat().st_size == 0:
        log.warning("ffmpeg failed (exit %d); evidence stored with its metadata", result.returncode)
        stripped.unlink(missing_ok=True)
        return False
    stripped.replace(path)
    return True


def _write_private(folder: Path, data: bytes, extension: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{secrets.token_hex(16)}{extension}"
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def store(data: bytes, kind: str, mime: str, *, caption: str | None = None, voice: bool = False,
          ffmpeg: str | None = None, transcriber: Transcriber | None = None,
          factory: sessionmaker | None = None, media_dir: Path | None = None) -> str:
    """Strip, write under a random name and record an `EvidenceItem` without a report; its id."""
    stripped = False
    if mime in PILLOW_FORMATS:
        data, stripped = strip_image(data, mime), True
    path = _write_private(media_dir or get_settings().media_dir, data, EXTENSIONS[mime])
    if mime.startswith(("audio/", "video/")) and ffmpeg:
        stripped = strip_container(path, ffmpeg)
    elif not stripped:
        log.info("no metadata stripping for %s; stored and flagged", mime)
    transcript = None
    if kind == "audio" and transcriber is not None:
        try:
            transcript = transcriber(path, mime)
        except Exception as error:  # a broken hook must never lose the evidence
            log.warning("speech-to-text hook failed (%s)", type(error).__name__)
    stored = path.read_bytes()
    item = EvidenceItem(
        kind="voice" if voice else kind, mime_type=mime, size_bytes=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(), stored_name=path.name,
        caption=caption or None, metadata_stripped=stripped, transcript=transcript or None,
    )
    try:
        with (factory or get_session_factory()).begin() as session:
            session.add(item)
            session.flush()
            return item.id
    except Exception:
        path.unlink(missing_ok=True)
        raise


async def receive(source: MediaSource, media: IncomingMedia, *, ffmpeg: str | None,
                  transcriber: Transcriber | None, factory: sessionmaker | None = None,
                  media_dir: Path | None = None) -> str:
    """Fetch, verify and store one WhatsApp media file; the new evidence item's id."""
    data, mime = await fetch(source, media)
    return await asyncio.get_running_loop().run_in_executor(None, lambda: store(
        data, media.kind, mime, caption=media.caption, voice=media.voice, ffmpeg=ffmpeg,
        transcriber=transcriber, factory=factory, media_dir=media_dir))


async def transcript_of(evidence_id: str, factory: sessionmaker | None = None) -> str | None:
    """The speech-to-text transcript stored with a voice note, if the hook produced one."""

    def read() -> str | None:
        with (factory or get_session_factory()).begin() as session:
            item = session.execute(queries.evidence_by_ids([evidence_id])).scalar_one_or_none()
            return item.transcript if item is not None else None

    return await asyncio.get_running_loop().run_in_executor(None, read)
