"""Forwarding a report to an officer as a WhatsApp template message, and its delivery receipts.

The template carries the public number, the category, the place, a short summary and the
dashboard link: nothing about the reporter (long digit runs, such as a phone number typed into
the report, are hidden too). It goes through the connector's Graph API client; without WhatsApp
credentials, to the local sandbox (`python -m sandbox`), where a tester sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import or_, select
from sqlalchemy.orm import sessionmaker

from channels.whatsapp_graph import DEFAULT_API_URL, GraphClient, GraphError
from sandbox.server import API_VERSION, DEFAULTS
from satark.db.models import Forward, utcnow
from satark.db.session import get_session_factory
from satark.settings import get_police_settings
from satark.taxonomy import get_category

SUMMARY_CHARS = 160
PLACE_CHARS = 120
CALLBACK_PREFIX = "satark-forward:"  # in `biz_opaque_callback_data`, which Meta echoes in receipts
DELIVERY_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
_LONG_NUMBER = re.compile(r"\+?\d[\d\s().-]{6,}\d")
SANDBOX_DEFAULT_PORT = "8010"


@dataclass(frozen=True)
class ForwardMessage:
    phone: str = field(repr=False)
    number: str
    category: str
    place: str
    summary: str
    dashboard_url: str


@dataclass(frozen=True)
class DeliveryStatus:
    """One `statuses[]` entry of a webhook: which message, what happened, when."""

    message_id: str
    status: str
    at: datetime
    forward_id: int | None = None  # from the callback data the forward was sent with


def forward_id_from_callback(data: object) -> int | None:
    text = str(data or "")
    suffix = text[len(CALLBACK_PREFIX):] if text.startswith(CALLBACK_PREFIX) else ""
    return int(suffix) if suffix.isdigit() else None


def message_key(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()


def _parameter(text: str, limit: int) -> str:
    """Meta refuses newlines, tabs and long runs of spaces in template parameters."""
    text = " ".join(_LONG_NUMBER.sub("[number]", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def report_link(dashboard_url: str, number: str) -> str:
    return f"{dashboard_url.rstrip('/')}/report?number={quote(number)}"


def template_message(message: ForwardMessage, forward_id: int) -> dict:
    settings = get_police_settings()
    category = get_category(message.category)
    language = settings.forward_language.split("_")[0]
    texts = (message.number, category.label(language) if category else message.category,
             _parameter(message.place, PLACE_CHARS), _parameter(message.summary, SUMMARY_CHARS),
             report_link(message.dashboard_url, message.number))
    return {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": message.phone,
        "type": "template", "biz_opaque_callback_data": f"{CALLBACK_PREFIX}{forward_id}",
        "template": {"name": settings.forward_template, "language": {"code": settings.forward_language},
                     "components": [{"type": "body",
                                     "parameters": [{"type": "text", "text": t} for t in texts]}]},
    }


def graph_settings() -> tuple[str, str, str]:
    """(API URL, access token, phone number id): WhatsApp's when configured, else the sandbox's."""
    token = os.environ.get("WHATSAPP_ACCESS_TOKEN", "")
    if token:
        return (os.environ.get("WHATSAPP_API_URL") or DEFAULT_API_URL, token,
                os.environ.get("WHATSAPP_PHONE_NUMBER_ID", ""))
    port = os.environ.get("SANDBOX_PORT") or SANDBOX_DEFAULT_PORT
    return (f"http://127.0.0.1:{port}/{API_VERSION}", DEFAULTS["WHATSAPP_ACCESS_TOKEN"],
            DEFAULTS["WHATSAPP_PHONE_NUMBER_ID"])


def _post(payload: dict) -> str | None:
    """Send through the connector's async client, in a worker thread with its own event loop
    (the dashboard may already run one)."""
    api_url, token, phone_number_id = graph_settings()

    async def send() -> str | None:
        client = GraphClient(api_url, token, phone_number_id, attempts=3, timeout_seconds=15)
        try:
            return await client.send(payload)
        finally:
            await client.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send()).result()


def send(forward_id: int, message: ForwardMessage, factory: sessionmaker | None = None) -> None:
    """Send one forward and record the Graph message id (or the failure)."""
    try:
        message_id, error = _post(template_message(message, forward_id)), None
    except GraphError as failure:
        message_id, error = None, str(failure)
    with (factory or get_session_factory()).begin() as session:
        row = session.get(Forward, forward_id)
        if error is not None:
            row.status, row.error, row.failed_at = "failed", error, utcnow()
        else:
            row.message_key = message_key(message_id) if message_id else None


def record_delivery_statuses(statuses: Iterable[DeliveryStatus], factory: sessionmaker | None = None) -> int:
    """Apply delivery receipts to forwards (receipts may come twice or out of order: a status never
    goes back). A receipt names its forward by the callback data, which also wins the race against
    storing the message id; else by message id. Receipts for replies to citizens match nothing.
    Returns how many forwards changed status."""
    by_key: dict[str, list[DeliveryStatus]] = {}
    by_forward: dict[int, list[DeliveryStatus]] = {}
    for status in statuses:
        if status.status not in DELIVERY_RANK or status.status == "queued":
            continue
        if status.forward_id is not None:
            by_forward.setdefault(status.forward_id, []).append(status)
        else:
            by_key.setdefault(message_key(status.message_id), []).append(status)
    if not by_key and not by_forward:
        return 0
    updated = 0
    with (factory or get_session_factory()).begin() as session:
        rows = session.execute(select(Forward).where(or_(Forward.id.in_(list(by_forward)),
                                                         Forward.message_key.in_(list(by_key))))).scalars()
        for row in rows:
            for status in by_forward.get(row.id, []) + by_key.get(row.message_key or "", []):
                column = f"{status.status}_at"
                if getattr(row, column) is None:
                    setattr(row, column, status.at)
                if DELIVERY_RANK[status.status] > DELIVERY_RANK[row.status]:
                    row.status = status.status
                    updated += 1
    return updated
