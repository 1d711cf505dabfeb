"""Media evidence: download at once, verify, strip identifying metadata, store under a random name.

WhatsApp media URLs expire within minutes, so files are fetched (streamed to disk) while the
message is handled. What is stored is what the police will see: no original file name, no EXIF
(GPS, camera, owner), no audio/video container tags or cover pictures, no PDF document info.
Stripping fails closed: a file whose metadata could not be removed, or whose result does not pass
the check afterwards, is quarantined (kept apart, owner-only, never attached to a report, deleted by
`satark.retention`) and the citizen is told. Each stored file becomes an `EvidenceItem` without a
report; the conversation attaches it to the report it belongs to.
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
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from sqlalchemy.orm import sessionmaker

from satark import queries
from satark.db.models import EvidenceItem
from satark.db.session import get_session_factory
from satark.settings import get_settings

log = logging.getLogger(__name__)

MB = 1024 * 1024
# WhatsApp Cloud API limits per media type; documents far below Meta's 100 MB (evidence is photos,
# recordings and short PDFs, and every file is rewritten in memory or by ffmpeg).
MAX_BYTES = {"image": 5 * MB, "audio": 16 * MB, "video": 16 * MB, "document": 16 * MB}
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
    "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac",
    "audio/amr": ".amr", "video/mp4": ".mp4", "video/3gpp": ".3gp",
    "application/pdf": ".pdf", "text/plain": ".txt",
}
ACCEPTED = {
    "image": {"image/jpeg", "image/png", "image/webp"},
    "audio": {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
    "video": {"video/mp4", "video/3gpp"},
    # A photo or video sent "as a document" keeps its metadata on WhatsApp: stripped all the same.
    # Office files are refused: their author fields cannot be removed reliably.
    "document": set(EXTENSIONS),
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
FFMPEG_TIMEOUT_SECONDS = 120
STT_ENV = "SPEECH_TO_TEXT"
QUARANTINE_FOLDER = "quarantine"
INCOMING_PREFIX = ".incoming-"
# Tags a clean rewrite may still show: container bookkeeping ffmpeg writes itself, no person in them.
HARMLESS_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id",
                           "language"})
_TAG_LINE = re.compile(r"^\s{4,}([A-Za-z0-9_.\-]+)\s*:\s?(.*)$")
_STREAM_LINE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio|Data|Subtitle|Attachment)(.*)$")

Transcriber = Callable[[Path, str], "str | None"]


class MediaError(Exception):
    """Why a file could not be kept: `not_found`, `download`, `too_large`, `type`, `checksum` or
    `quarantined` (its metadata could not be removed safely)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class MediaSource(Protocol):
    """Where media come from (the Graph API client)."""

    async def media_info(self, media_id: str) -> dict: ...

    async def download(self, url: str, max_bytes: int, destination: Path) -> None: ...


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


def _private_file(folder: Path) -> Path:
    """A new empty file only the owner can read, in an owner-only folder."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=INCOMING_PREFIX)  # created 0600
    os.close(descriptor)
    return Path(name)


def _file_sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.digest()


async def fetch(source: MediaSource, media: IncomingMedia, folder: Path | None = None) -> tuple[Path, str]:
    """Download (to an owner-only file, never whole into memory) and verify one file.

    An expired URL is resolved again once. The caller owns the returned file.
    """
    limit = MAX_BYTES[media.kind]
    path = _private_file(folder or get_settings().media_dir)
    try:
        for attempt in (1, 2):
            info = await source.media_info(media.media_id)
            mime = base_mime(_text(info.get("mime_type")) or media.mime_type)
            if mime not in ACCEPTED[media.kind]:
                raise MediaError("type", mime or "unknown")
            if _size(info) > limit:
                raise MediaError("too_large", f"{info.get('file_size')} bytes")
            try:
                await source.download(info["url"], limit, path)
                break
            except MediaError as error:
                if error.reason != "not_found" or attempt == 2:
                    raise
                log.info("media URL expired before download; resolving it again")
        expected = _text(info.get("sha256")) or media.sha256
        if not expected or not hmac.compare_digest(_file_sha256(path), _digest_bytes(expected)):
            raise MediaError("checksum", "sha256 does not match")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, mime


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def strip_image(data: bytes, mime: str, max_pixels: int | None = None) -> bytes:
    """Re-encode pixels only: EXIF (GPS, device, owner), XMP, comments and text chunks are gone.

    Only the declared format is tried (TIFF bytes declared as JPEG are refused), and the pixel
    budget is checked from the header before anything is decoded: a small file with huge dimensions
    must not cost gigabytes. The orientation is applied first, so the picture looks as the citizen
    saw it.
    """
    fmt = PILLOW_FORMATS[mime]
    budget = max_pixels or get_settings().max_image_pixels
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as original:
            width, height = original.size
            if width * height > budget:
                raise MediaError("too_large", f"{width}x{height} pixels")
            original.load()
            image = ImageOps.exif_transpose(original)
    except Image.DecompressionBombError as error:
        raise MediaError("too_large", "decompression bomb") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise MediaError("type", "not a readable image") from error
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


def probe(ffmpeg: str, path: Path) -> tuple[list[str], dict[str, str]]:
    """(stream descriptions, metadata tags) of a file, as `ffmpeg -i` reports them."""
    result = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS)
    streams, tags = [], {}
    for line in result.stderr.decode("utf-8", "replace").splitlines():
        stream = _STREAM_LINE.match(line)
        if stream:
            streams.append(f"{stream.group(1)}{stream.group(2)}")
            continue
        tag = _TAG_LINE.match(line)
        if tag and tag.group(1) != "Metadata":
            tags[tag.group(1).lower()] = tag.group(2).strip()
    return streams, tags


def _stream_maps(mime: str) -> list[str]:
    """Audio keeps its audio; video keeps the first real video stream (`V`: no cover pictures) and audio."""
    if mime.startswith("audio/"):
        return ["-map", "0:a"]
    return ["-map", "0:V:0?", "-map", "0:a?"]


def strip_container(path: Path, ffmpeg: str, mime: str) -> bool:
    """Rewrite an audio/video file with its streams copied and nothing else, then check the result.

    Dropped: container and stream tags, chapters, attached pictures (cover art keeps its own EXIF),
    data tracks (phones put GPS there) and subtitles. True only when the rewrite contains no video
    cover, no data stream, no tag beyond container bookkeeping, and none of the original tag values.
    """
    stripped = path.with_name(f"{path.stem}.clean{path.suffix}")
    extra = ["-id3v2_version", "0", "-write_id3v1", "0"] if path.suffix == ".mp3" else []
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(path), *_stream_maps(mime),
        "-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1", "-sn", "-dn",
        "-c", "copy", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        *extra, str(stripped),
    ]
    try:
        _, original_tags = probe(ffmpeg, path)
        result = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
            command, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS)
        if result.returncode != 0 or not stripped.exists() or stripped.stat().st_size == 0:
            log.warning("ffmpeg could not rewrite the %s file (exit %d)", mime, result.returncode)
            return False
        problem = _remaining_metadata(ffmpeg, stripped, original_tags)
        if problem:
            log.warning("metadata left after stripping a %s file: %s", mime, problem)
            return False
        stripped.chmod(0o600)
        stripped.replace(path)
        return True
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("ffmpeg could not run (%s)", type(error).__name__)
        return False
    finally:
        stripped.unlink(missing_ok=True)


def _remaining_metadata(ffmpeg: str, path: Path, original_tags: dict[str, str]) -> str | None:
    """Why a rewritten file still carries metadata, or None."""
    streams, tags = probe(ffmpeg, path)
    if not streams:
        return "no stream"
    for stream in streams:
        if stream.startswith(("Data", "Subtitle", "Attachment")) or "attached pic" in stream:
            return f"stream kept: {stream.split(',')[0]}"
    unexpected = sorted(set(tags) - HARMLESS_TAGS)
    if unexpected:
        return "tags kept: " + ", ".join(unexpected)
    data = path.read_bytes()
    for key, value in original_tags.items():
        if key not in HARMLESS_TAGS and len(value) >= 4 and value.encode() in data:
            return f"the value of {key} is still in the file"
    return None


def strip_pdf(data: bytes) -> bytes:
    """Pages only: no document info, no XMP, no annotations (their /T names the author), no forms or
    scripts; content streams compressed. Raises MediaError when the file cannot be rewritten."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise MediaError("quarantined", "encrypted PDF")
        original = {str(k): str(v) for k, v in (reader.metadata or {}).items()}
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        for page in writer.pages:
            for key in ("/Metadata", "/PieceInfo", "/Annots", "/AA", "/Thumb"):
                page.pop(key, None)
            page.compress_content_streams()
        writer.metadata = None
        out = io.BytesIO()
        writer.write(out)
        clean = out.getvalue()
        check = PdfReader(io.BytesIO(clean))
        left = bool(check.metadata) or "/Metadata" in check.trailer["/Root"]
    except MediaError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError, OSError) as error:
        raise MediaError("quarantined", f"unreadable PDF ({type(error).__name__})") from error
    if left:
        raise MediaError("quarantined", "PDF metadata left after rewriting")
    if any(len(v) >= 4 and v.encode() in clean for v in original.values()):
        raise MediaError("quarantined", "a PDF info value is still in the file")
    return clean


def _write_private(folder: Path, data: bytes, extension: str) -> Path:
    path = _private_file(folder)
    path.write_bytes(data)
    return path.replace(folder / f"{secrets.token_hex(16)}{extension}")


def _place(source: bytes | Path, folder: Path, extension: str) -> Path:
    """The evidence under a random owner-only name: bytes written, a downloaded file moved."""
    if isinstance(source, bytes):
        return _write_private(folder, source, extension)
    source.chmod(0o600)
    return source.replace(folder / f"{secrets.token_hex(16)}{extension}")


def _as_bytes(source: bytes | Path) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def quarantine(source: bytes | Path, folder: Path, extension: str, reason: str) -> MediaError:
    """Keep a file that could not be made safe apart from the evidence: never attached, never shown."""
    place = folder / QUARANTINE_FOLDER
    place.mkdir(parents=True, exist_ok=True, mode=0o700)
    _place(source, place, extension)
    log.warning("file quarantined: %s", reason)
    return MediaError("quarantined", reason)


@lru_cache(maxsize=1)
def _media_slots() -> threading.BoundedSemaphore:
    """Bounds how many files are decoded or rewritten at once, whatever the number of senders."""
    return threading.BoundedSemaphore(get_settings().media_concurrency)


def _strip(source: bytes | Path, folder: Path, mime: str, ffmpeg: str | None) -> Path:
    """The stored, stripped file; raises MediaError (`quarantined`) when it cannot be made safe."""
    extension = EXTENSIONS[mime]
    if mime in PILLOW_FORMATS:
        return _write_private(folder, strip_image(_as_bytes(source), mime), extension)
    if mime == "application/pdf":
        data = _as_bytes(source)
        try:
            return _write_private(folder, strip_pdf(data), extension)
        except MediaError as error:
            raise quarantine(data, folder, extension, str(error).removeprefix("quarantined: ")) from None
    if mime.startswith(("audio/", "video/")):
        path = _place(source, folder, extension)
        if ffmpeg and strip_container(path, ffmpeg, mime):
            return path
        raise quarantine(path, folder, extension, "ffmpeg missing" if not ffmpeg else "stripping failed")
    return _place(source, folder, extension)  # plain text: no metadata to carry


def store(data: bytes | Path, kind: str, mime: str, *, caption: str | None = None, voice: bool = False,
          ffmpeg: str | None = None, transcriber: Transcriber | None = None,
          factory: sessionmaker | None = None, media_dir: Path | None = None) -> str:
    """Strip, write under a random name and record an `EvidenceItem` without a report; its id.

    `data` is the file's bytes or a downloaded file (which is moved or removed).
    """
    folder = media_dir or get_settings().media_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with _media_slots():
            path = _strip(data, folder, mime, ffmpeg)
    finally:
        if isinstance(data, Path):
            data.unlink(missing_ok=True)
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
        caption=caption or None, metadata_stripped=True, transcript=transcript or None,
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
    path, mime = await fetch(source, media, media_dir)
    return await asyncio.get_running_loop().run_in_executor(None, lambda: store(
        path, media.kind, mime, caption=media.caption, voice=media.voice, ffmpeg=ffmpeg,
        transcriber=transcriber, factory=factory, media_dir=media_dir))


async def transcript_of(evidence_id: str, factory: sessionmaker | None = None) -> str | None:
    """The speech-to-text transcript stored with a voice note, if the hook produced one."""

    def read() -> str | None:
        with (factory or get_session_factory()).begin() as session:
            item = session.execute(queries.evidence_by_ids([evidence_id])).scalar_one_or_none()
            return item.transcript if item is not None else None

    return await asyncio.get_running_loop().run_in_executor(None, read)
