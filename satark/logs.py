"""Logging that cannot leak who reported, whatever `LOG_LEVEL` says.

Two lines of defence, installed by `configure_logging()` in every service (Rasa server via the
connector and the tracker store, action server, dashboard, command-line tools):

1. Libraries that log what they parse (Pillow logs EXIF tag values while decoding, HTTP clients
   log URLs and bodies) stay at WARNING even when the services run with DEBUG.
2. Every log record is redacted when it is created: phone numbers, WhatsApp ids and message ids,
   receipt codes and report numbers are replaced before any handler, file or console sees them.
   A record factory is used rather than a handler filter because Rasa and Sanic add their own
   handlers (and log files) after start-up; the factory covers them all.
"""

from __future__ import annotations

import logging
import traceback

from satark.redaction import redact

NOISY_LIBRARIES = (
    "PIL", "urllib3", "requests", "aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.server",
    "sanic.access", "asyncio", "matplotlib", "multipart", "httpx", "httpcore", "hpack", "websockets",
    "watchdog", "tornado.access", "pypdf", "fsspec", "filelock", "botocore", "boto3", "s3transfer",
    "numba", "h5py", "apscheduler", "sqlalchemy.engine",
)
_original_factory = logging.getLogRecordFactory()


def _redacting_factory(*args, **kwargs) -> logging.LogRecord:
    record = _original_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not break logging
        message = str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """For handlers created outside this process's record factory (e.g. records from a queue)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        return True


def quiet_libraries() -> None:
    for name in NOISY_LIBRARIES:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def configure_logging(level: str | int | None = None) -> None:
    """Idempotent: install the redacting record factory, quiet libraries, filter root handlers.

    `level` sets the root level and adds a console handler (command-line tools); services that
    configure their own logging (Rasa's `--debug`, rasa-sdk, Streamlit) call it without a level.
    """
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)
    root = logging.getLogger()
    if level is not None:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        root.setLevel(level if isinstance(level, int) else str(level).upper())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    quiet_libraries()
