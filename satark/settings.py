"""Settings, read from environment variables only (documented in `.env.example`).

Read lazily so that tests and tools can change the environment before first use.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

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
    secret = os.environ.get("RECEIPT_SECRET", "")
    if secret and secret != EXAMPLE_SECRET:
        return secret
    if not settings.dev_mode:
        raise RuntimeError(
            "RECEIPT_SECRET must be set to a long random value outside development mode "
            "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return local_secret("receipt_secret")
