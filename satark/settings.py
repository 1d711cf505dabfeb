"""Settings, read from environment variables only (documented in `.env.example`).

Read lazily so that tests and tools can change the environment before first use.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from satark.secret_policy import GENERATE_HINT, secret_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WHATSAPP_VARIABLES = ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN",
                      "WHATSAPP_PHONE_NUMBER_ID")
EXAMPLE_SECRET = "change-me"  # noqa: S105 - the placeholder in .env.example, refused outside dev mode


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    path = Path(value) if value else default
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class RetentionAges:
    """How long `python -m satark.retention` keeps each kind of data (see .env.example)."""

    tracker_days: int = 30
    orphan_evidence_hours: int = 48
    processed_message_days: int = 14
    closed_report_evidence_days: int = 180


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    offices_file: Path
    police_stations_file: Path
    categories_file: Path
    dev_mode: bool
    media_dir: Path
    max_wrong_codes: int
    wrong_code_window_minutes: int
    max_message_age_minutes: int = 24 * 60
    max_image_pixels: int = 40_000_000
    media_concurrency: int = 2
    retention: RetentionAges = field(default_factory=lambda: RetentionAges())
    anonymization_key: str = field(default="", repr=False)
    ffmpeg_binary: str = ""
    speech_to_text: str = ""
    # The WhatsApp Cloud API values (credentials.yml hands them to the connector through Rasa);
    # the sandbox reads them here to stand in for Meta with the same values.
    whatsapp: dict[str, str] = field(default_factory=dict, repr=False)
    sandbox_port: int = 8010
    sandbox_webhook_url: str = ""

    def secret_file(self, name: str) -> Path:
        return self.var_dir / "secrets" / name


def local_secret(name: str) -> str:
    """A development secret generated once and kept in the git-ignored runtime folder.

    The one secret-file helper: the receipt secret and the anonymization key use it.
    """
    path = get_settings().secret_file(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    var_dir = _path("SATARK_VAR_DIR", PROJECT_ROOT / "var")
    return Settings(
        var_dir=var_dir,
        database_url=os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'satark.db'}",
        offices_file=_path("OFFICES_FILE", PROJECT_ROOT / "config" / "offices.yml"),
        police_stations_file=_path("POLICE_STATIONS_FILE", PROJECT_ROOT / "config" / "police_stations.yml"),
        categories_file=_path("CATEGORIES_FILE", PROJECT_ROOT / "config" / "categories.yml"),
        dev_mode=_flag("SATARK_DEV_MODE", default=False),
        media_dir=_path("MEDIA_DIR", var_dir / "media"),
        max_wrong_codes=int(os.environ.get("MAX_WRONG_CODES", "5")),
        wrong_code_window_minutes=int(os.environ.get("WRONG_CODE_WINDOW_MINUTES", "15")),
        max_message_age_minutes=int(os.environ.get("MAX_MESSAGE_AGE_MINUTES") or 24 * 60),
        max_image_pixels=int(os.environ.get("MAX_IMAGE_PIXELS") or 40_000_000),
        media_concurrency=max(1, int(os.environ.get("MEDIA_CONCURRENCY") or 2)),
        retention=RetentionAges(
            tracker_days=int(os.environ.get("RETENTION_TRACKER_DAYS") or 30),
            orphan_evidence_hours=int(os.environ.get("RETENTION_ORPHAN_EVIDENCE_HOURS") or 48),
            processed_message_days=int(os.environ.get("RETENTION_PROCESSED_MESSAGE_DAYS") or 14),
            closed_report_evidence_days=int(os.environ.get("RETENTION_CLOSED_REPORT_EVIDENCE_DAYS") or 180),
        ),
        anonymization_key=os.environ.get("ANONYMIZATION_KEY", ""),
        ffmpeg_binary=os.environ.get("FFMPEG_BINARY", "").strip(),
        speech_to_text=os.environ.get("SPEECH_TO_TEXT", "").strip(),
        whatsapp={name: os.environ.get(name, "").strip() for name in WHATSAPP_VARIABLES},
        sandbox_port=int(os.environ.get("SANDBOX_PORT") or 8010),
        sandbox_webhook_url=os.environ.get("SANDBOX_WEBHOOK_URL", "").strip(),
    )


@lru_cache(maxsize=1)
def get_receipt_secret() -> str:
    """The key for receipt codes: required outside development mode, generated once inside it."""
    settings = get_settings()
    secret = os.environ.get("RECEIPT_SECRET", "").strip()
    if settings.dev_mode:
        return secret if secret and secret != EXAMPLE_SECRET else local_secret("receipt_secret")
    problem = secret_problem(secret)
    if problem:
        raise RuntimeError(f"RECEIPT_SECRET {problem}: outside development mode it must be a long random value "
                           f"(generate one with: {GENERATE_HINT})")
    return secret


@dataclass(frozen=True)
class PoliceSettings:
    """Settings of the police side: sign-in, sessions, and forwarding reports to officers."""

    login_max_failures: int
    login_lock_minutes: int
    session_idle_minutes: int
    session_max_hours: int
    dashboard_public_url: str
    forward_template: str
    forward_language: str


def get_police_settings() -> PoliceSettings:
    """Read on every call (cheap), so tests and tools may change the environment at any time."""
    return PoliceSettings(
        login_max_failures=int(os.environ.get("LOGIN_MAX_FAILURES") or "5"),
        login_lock_minutes=int(os.environ.get("LOGIN_LOCK_MINUTES") or "15"),
        session_idle_minutes=int(os.environ.get("SESSION_IDLE_MINUTES") or "30"),
        session_max_hours=int(os.environ.get("SESSION_MAX_HOURS") or "12"),
        dashboard_public_url=(os.environ.get("DASHBOARD_PUBLIC_URL") or "http://127.0.0.1:8501").rstrip("/"),
        forward_template=os.environ.get("WHATSAPP_FORWARD_TEMPLATE") or "satark_report_forward",
        forward_language=os.environ.get("WHATSAPP_FORWARD_LANGUAGE") or "en",
    )
