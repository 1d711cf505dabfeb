"""Media files that carry a person's name, number, device and location in their metadata, in every
container the connector accepts. Generated at test time with Pillow, ffmpeg (imageio-ffmpeg) and pypdf."""

from __future__ import annotations

import io
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter

from satark import media

OWNER = "Zorawar Pratapsinh"
PHONE = "+91 98765 43210"
DEVICE = "PhoneMaker-X9"
SERIAL = "SN-4471-QXZ"
GPS = {1: "N", 2: (25.0, 18.0, 3.5), 3: "E", 4: (82.0, 58.0, 26.1)}
# What must not survive: strings that appear in the originals' metadata.
NEEDLES = (OWNER, "98765", DEVICE, SERIAL)


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = DEVICE                 # Make
    exif[0x013B] = f"{OWNER} {PHONE}"     # Artist
    exif.get_ifd(0x8769)[0xA431] = SERIAL  # BodySerialNumber
    exif.get_ifd(0x8825).update(GPS)
    return exif


def photo(fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, fmt, exif=_exif().tobytes())
    return out.getvalue()


def _ffmpeg(*args: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / args[-1]
        inputs = []
        for arg in args[:-1]:
            if arg == "COVER":
                cover = Path(folder) / "cover.jpg"
                cover.write_bytes(photo(size=(32, 32)))
                arg = str(cover)
            inputs.append(arg)
        tags = ["-metadata", f"artist={OWNER}", "-metadata", f"comment={PHONE}",
                "-metadata", f"make={DEVICE}", "-metadata", f"title=Recorded by {OWNER}",
                "-metadata", "location=+25.3176+082.9739/"]
        subprocess.run([media.find_ffmpeg(), "-v", "error", "-y", *inputs, *tags, str(target)],
                       check=True, capture_output=True)
        return target.read_bytes()


SINE = ["-f", "lavfi", "-i", "sine=frequency=300:duration=1"]
PICTURE = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1"]


@cache
def av(kind: str) -> tuple[bytes, str]:
    """(bytes, mime) of an identifying recording: ogg, m4a (cover art), mp3 (cover art), mp4 (cover art)."""
    if kind == "ogg":
        return _ffmpeg(*SINE, "-c:a", "libopus", "voice.ogg"), "audio/ogg"
    if kind == "m4a":
        return _ffmpeg(*SINE, "-i", "COVER", "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-c:v", "copy",
                       "-disposition:v:0", "attached_pic", "song.m4a"), "audio/mp4"
    if kind == "mp3":
        return _ffmpeg(*SINE, "-i", "COVER", "-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "copy",
                       "-id3v2_version", "3", "-metadata:s:v", "comment=Cover (front)", "song.mp3"), "audio/mpeg"
    if kind == "mp4":
        return _ffmpeg(*PICTURE, *SINE, "-i", "COVER", "-map", "0:v", "-map", "1:a", "-map", "2:v",
                       "-c:v:0", "mpeg4", "-c:a", "aac", "-c:v:1", "copy", "-disposition:v:1", "attached_pic",
                       "clip.mp4"), "video/mp4"
    raise ValueError(kind)


@cache
def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": OWNER, "/Creator": DEVICE, "/Subject": PHONE, "/Producer": SERIAL})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
