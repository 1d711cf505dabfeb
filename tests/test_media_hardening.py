"""Evidence that could hurt: metadata in every accepted container (cover art included), image bombs,
mislabelled files, PDFs, unbounded downloads and unbounded parallel decoding. Fail closed."""

from __future__ import annotations

import asyncio
import io
import stat
import struct
import threading
import time
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from channels.whatsapp_graph import GraphClient
from satark import media
from satark.db.models import EvidenceItem
from satark.db.session import get_session_factory
from satark.settings import get_settings
from tests.support import media_fixtures
from tests.support.connector import ACCESS_TOKEN, PHONE_NUMBER_ID


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    return media.find_ffmpeg()


def stored(system, evidence_id: str) -> tuple[EvidenceItem, bytes]:
    with get_session_factory()() as session:
        item = session.execute(select(EvidenceItem).where(EvidenceItem.id == evidence_id)).scalar_one()
    return item, (system / "media" / item.stored_name).read_bytes()


@pytest.mark.parametrize("container", ["ogg", "m4a", "mp3", "mp4"])
def test_recordings_lose_tags_and_cover_pictures(system, ffmpeg, container):
    data, mime = media_fixtures.av(container)
    assert any(needle.encode() in data for needle in media_fixtures.NEEDLES)
    kind = "video" if mime.startswith("video/") else "audio"
    item, clean = stored(system, media.store(data, kind, mime, ffmpeg=ffmpeg))
    assert [needle for needle in media_fixtures.NEEDLES if needle.encode() in clean] == []
    path = system / "media" / item.stored_name
    streams, tags = media.probe(ffmpeg, path)
    assert not any("attached pic" in s or s.startswith("Data") for s in streams), streams
    assert set(tags) <= media.HARMLESS_TAGS
    assert any(s.startswith("Audio") for s in streams)
    if kind == "video":
        assert any(s.startswith("Video") for s in streams)  # the footage itself is kept
    assert item.metadata_stripped and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pdf_document_info_and_xmp_are_removed(system):
    original = media_fixtures.pdf()
    item, clean = stored(system, media.store(original, "document", "application/pdf"))
    assert [needle for needle in media_fixtures.NEEDLES if needle.encode() in clean] == []
    assert clean.startswith(b"%PDF") and item.metadata_stripped


def test_office_documents_are_not_accepted():
    assert not {"application/msword", "application/vnd.ms-excel"} & media.ACCEPTED["document"]
    assert media.MAX_BYTES["document"] <= 16 * media.MB


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring huge dimensions, with a tiny compressed body."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + \
        chunk(b"IEND", b"")


def test_pixel_budget_is_checked_before_decoding(system):
    bomb = huge_png(30_000, 30_000)  # 900 megapixels in a few hundred bytes
    assert len(bomb) < 2000
    started = time.monotonic()
    with pytest.raises(media.MediaError) as error:
        media.store(bomb, "image", "image/png")
    assert error.value.reason == "too_large" and time.monotonic() - started < 2


def test_decompression_bomb_error_becomes_a_media_error():
    with pytest.raises(media.MediaError) as error:
        media.strip_image(huge_png(100_000, 100_000), "image/png", max_pixels=10**12)
    assert error.value.reason == "too_large"


def test_an_image_is_opened_only_as_its_declared_format():
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, "TIFF")
    with pytest.raises(media.MediaError) as error:
        media.strip_image(out.getvalue(), "image/jpeg")
    assert error.value.reason == "type"


def test_media_work_is_bounded_by_a_semaphore(system, monkeypatch):
    monkeypatch.setenv("MEDIA_CONCURRENCY", "1")
    get_settings.cache_clear()
    media._media_slots.cache_clear()
    try:
        slots = media._media_slots()
        finished = threading.Event()
        slots.acquire()  # some other file is being processed
        worker = threading.Thread(target=lambda: (media.store(media_fixtures.photo(), "image", "image/jpeg"),
                                                  finished.set()))
        worker.start()
        assert not finished.wait(0.5)  # waits for the slot
        slots.release()
        assert finished.wait(10)
        worker.join()
    finally:
        get_settings.cache_clear()
        media._media_slots.cache_clear()


def test_downloads_stream_to_an_owner_only_file_and_stop_at_the_limit(harness, tmp_path):
    payload = bytes(range(256)) * 4096  # 1 MB
    media_id, _ = harness.upload(payload, "video/mp4")

    async def download(limit: int):
        client = GraphClient(f"{harness.graph}/v22.0", ACCESS_TOKEN, PHONE_NUMBER_ID, attempts=1)
        try:
            info = await client.media_info(media_id)
            target = media._private_file(tmp_path)
            await client.download(info["url"], limit, target)
            return target
        finally:
            await client.close()

    target = asyncio.run(download(2 * len(payload)))
    assert target.read_bytes() == payload and stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(media.MediaError) as error:
        asyncio.run(download(len(payload) // 2))
    assert error.value.reason == "too_large"
