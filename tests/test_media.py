"""Media evidence: identifying metadata stripped from images, audio and video; random file names;
evidence rows without a report; the speech-to-text hook; failures that must not lose anything."""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import subprocess

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from satark import media
from satark.db.models import EvidenceItem
from satark.db.session import get_session_factory
from satark.settings import get_settings
from tests.support.connector import isolated_system

OWNER = "Ramesh Kumar"
DEVICE = "PhoneMaker-X9"
GPS = {1: "N", 2: (25.0, 18.0, 3.5), 3: "E", 4: (82.0, 58.0, 26.1)}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    with isolated_system(tmp_path_factory.mktemp("media")) as folder:
        yield folder


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    binary = media.find_ffmpeg()
    assert binary, "imageio-ffmpeg is a pinned requirement: an ffmpeg must always be found"
    return binary


def photo_with_exif(fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (64, 48), "red")
    image.paste((0, 0, 255), (0, 0, 32, 48))
    exif = Image.Exif()
    exif[0x010F] = DEVICE          # Make
    exif[0x0110] = "Model 2024"    # Model
    exif[0x013B] = OWNER           # Artist
    exif[0x8298] = f"(c) {OWNER}"  # Copyright
    exif[0x0112] = 6               # Orientation: rotate 90° to display
    exif.get_ifd(0x8825).update(GPS)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def row(evidence_id: str) -> EvidenceItem:
    with get_session_factory()() as session:
        return session.execute(select(EvidenceItem).where(EvidenceItem.id == evidence_id)).scalar_one()


def stored_bytes(system, item: EvidenceItem) -> bytes:
    return (system / "media" / item.stored_name).read_bytes()


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("PNG", "image/png")])
def test_image_exif_is_removed_and_orientation_kept(system, fmt, mime):
    original = photo_with_exif(fmt)
    assert OWNER.encode() in original and DEVICE.encode() in original
    item = row(media.store(original, "image", mime))
    data = stored_bytes(system, item)
    assert OWNER.encode() not in data and DEVICE.encode() not in data and b"Exif" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert dict(image.getexif()) == {}
        assert image.size == (48, 64)  # the orientation was applied, not lost
        assert image.format == fmt
    assert item.metadata_stripped and item.kind == "image" and item.report_id is None
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size_bytes == len(data)


def test_png_text_chunks_are_removed(system):
    info = PngInfo()
    info.add_text("Author", OWNER)
    info.add_itxt("Comment", "मोबाइल 98765 43210")
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(out, "PNG", pnginfo=info)
    data = stored_bytes(system, row(media.store(out.getvalue(), "image", "image/png")))
    assert OWNER.encode() not in data and b"98765" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA" and not image.text


def test_photo_sent_as_document_is_stripped_too(system):
    item = row(media.store(photo_with_exif(), "document", "image/jpeg"))
    assert item.kind == "document" and item.metadata_stripped
    assert OWNER.encode() not in stored_bytes(system, item)


def test_unreadable_image_is_refused():
    with pytest.raises(media.MediaError) as error:
        media.store(b"\xff\xd8\xff not really a jpeg", "image", "image/jpeg")
    assert error.value.reason == "type"


def make_av(ffmpeg: str, folder, name: str, args: list[str]) -> bytes:
    path = folder / name
    subprocess.run([ffmpeg, "-v", "error", "-y", *args, "-metadata", f"artist={OWNER}",
                    "-metadata", "comment=+91 98765 43210", "-metadata", "location=+25.3176+082.9739/",
                    str(path)], check=True, capture_output=True)
    return path.read_bytes()


def test_voice_note_tags_are_stripped_with_ffmpeg(system, ffmpeg, tmp_path):
    data = make_av(ffmpeg, tmp_path, "voice.ogg",
                   ["-f", "lavfi", "-i", "sine=frequency=300:duration=1", "-c:a", "libopus"])
    assert OWNER.encode() in data
    item = row(media.store(data, "audio", "audio/ogg", voice=True, ffmpeg=ffmpeg))
    stored = stored_bytes(system, item)
    assert item.kind == "voice" and item.metadata_stripped
    assert OWNER.encode() not in stored and b"98765" not in stored
    assert stored.startswith(b"OggS") and len(stored) > 1000  # the sound itself is kept


def test_video_tags_and_location_are_stripped_with_ffmpeg(system, ffmpeg, tmp_path):
    data = make_av(ffmpeg, tmp_path, "clip.mp4", [
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-c:v", "mpeg4", "-c:a", "aac", "-shortest"])
    assert b"loci" in data and b"98765" in data  # the location atom and the comment
    item = row(media.store(data, "video", "video/mp4", ffmpeg=ffmpeg))
    stored = stored_bytes(system, item)
    assert item.metadata_stripped
    assert b"loci" not in stored and b"98765" not in stored and OWNER.encode() not in stored
    assert b"ftyp" in stored[:32]


def evidence_rows() -> int:
    with get_session_factory()() as session:
        return len(session.execute(select(EvidenceItem.id)).all())


def quarantined(system) -> list:
    return sorted((system / "media" / media.QUARANTINE_FOLDER).glob("*"))


def test_without_ffmpeg_audio_is_quarantined_never_kept_with_its_metadata(system, ffmpeg, tmp_path):
    data = make_av(ffmpeg, tmp_path, "a.m4a", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"])
    before, held = evidence_rows(), len(quarantined(system))
    with pytest.raises(media.MediaError) as error:
        media.store(data, "audio", "audio/mp4", ffmpeg=None)
    assert error.value.reason == "quarantined"
    assert evidence_rows() == before  # nothing the police could see
    assert len(quarantined(system)) == held + 1
    assert not any(OWNER.encode() in p.read_bytes() for p in (system / "media").glob("*.m4a"))


def test_ffmpeg_failure_quarantines_the_file(system, ffmpeg):
    data = b"OggS" + bytes(300)  # not a decodable stream
    before = evidence_rows()
    with pytest.raises(media.MediaError, match="quarantined"):
        media.store(data, "audio", "audio/ogg", ffmpeg=ffmpeg)
    assert evidence_rows() == before
    assert not list((system / "media").glob("*.clean.*"))
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in quarantined(system))


def test_an_unreadable_pdf_is_quarantined(system):
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Author (Ramesh) >>\nendobj\n%%EOF\n"
    with pytest.raises(media.MediaError, match="quarantined"):
        media.store(pdf, "document", "application/pdf", caption="rate list")


def test_stored_names_are_random_and_private(system):
    data = photo_with_exif()
    first, second = row(media.store(data, "image", "image/jpeg")), row(media.store(data, "image", "image/jpeg"))
    assert first.stored_name != second.stored_name
    assert first.sha256 == second.sha256  # same content, unlinkable names
    for item in (first, second):
        name, extension = item.stored_name.split(".")
        assert len(name) == 32 and int(name, 16) >= 0 and extension == "jpg"
        mode = (system / "media" / item.stored_name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600


@pytest.fixture
def setting(monkeypatch):
    """Change one environment setting for a test; settings are read afresh and again afterwards."""

    def change(name: str, value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield change
    monkeypatch.undo()
    get_settings.cache_clear()


def test_speech_to_text_hook_attaches_a_transcript(system, setting, ffmpeg, tmp_path):
    setting(media.STT_ENV, "tests.support.speech:transcribe")
    voice = make_av(ffmpeg, tmp_path, "v.ogg", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libopus"])
    item = row(media.store(voice, "audio", "audio/ogg", ffmpeg=ffmpeg, transcriber=media.load_transcriber()))
    assert item.transcript == f"{item.size_bytes} bytes of audio/ogg"


def test_speech_to_text_is_off_by_default_and_a_broken_hook_loses_nothing(system, setting, ffmpeg, tmp_path):
    setting(media.STT_ENV, None)
    assert media.load_transcriber() is None
    setting(media.STT_ENV, "tests.support.speech:broken")
    voice = make_av(ffmpeg, tmp_path, "v.ogg", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libopus"])
    item = row(media.store(voice, "audio", "audio/ogg", ffmpeg=ffmpeg, transcriber=media.load_transcriber()))
    assert item.transcript is None and item.size_bytes > 1000


def test_database_failure_leaves_no_orphan_file(system, tmp_path):
    broken = sessionmaker(bind=create_engine(f"sqlite:///{tmp_path / 'empty.db'}", future=True), future=True)
    before = set((system / "media").iterdir())
    with pytest.raises(Exception, match="no such table"):
        media.store(photo_with_exif(), "image", "image/jpeg", factory=broken)
    assert set((system / "media").iterdir()) == before


def test_find_ffmpeg_honours_the_setting(setting):
    setting("FFMPEG_BINARY", "/opt/custom/ffmpeg")
    assert media.find_ffmpeg() == "/opt/custom/ffmpeg"


def test_sha256_accepted_as_hex_or_base64():
    digest = hashlib.sha256(b"evidence").digest()
    assert media._digest_bytes(digest.hex()) == digest
    assert media._digest_bytes(base64.b64encode(digest).decode()) == digest
    with pytest.raises(media.MediaError):
        media._digest_bytes("not a digest!")
