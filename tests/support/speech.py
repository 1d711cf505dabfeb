"""Speech-to-text hooks for tests of the `SPEECH_TO_TEXT` setting (no model is involved)."""

from __future__ import annotations

from pathlib import Path


def transcribe(path: Path, mime_type: str) -> str:
    """A hook that reads the stored file, as a real one would."""
    return f"{len(path.read_bytes())} bytes of {mime_type}"


def broken(path: Path, mime_type: str) -> str:
    raise RuntimeError("model not available")
