"""Alembic environment: migrates the database named by DATABASE_URL."""

from logging.config import fileConfig

from alembic import context

from satark.db.models import Base
from satark.db.session import get_engine

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def run_migrations_online() -> None:
    # A private engine, disposed afterwards, so no migration connection outlives the upgrade.
    engine = get_engine.__wrapped__(context.config.attributes.get("database_url"))
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata,
                              render_as_batch=connection.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations_online()
