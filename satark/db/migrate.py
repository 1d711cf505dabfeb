"""Apply Alembic migrations to the configured database (`python -m satark.db.migrate`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from satark.settings import PROJECT_ROOT, get_settings


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "satark" / "migrations"))
    config.attributes["database_url"] = database_url or get_settings().database_url
    return config


def upgrade(database_url: str | None = None) -> None:
    command.upgrade(alembic_config(database_url), "head")


if __name__ == "__main__":
    from satark.preflight import harden_process

    harden_process()
    upgrade()
    print("database schema is up to date")
