"""WhatsApp Cloud API webhook payloads, shaped as Meta sends them, and their signature.

Used by the sandbox chat page and by the tests, so both exercise the connector with real shapes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

WABA_ID = "102290129340398"
DISPLAY_NUMBER = "15550783881"


def message_id() -> str:
    """A fresh id in WhatsApp's `wamid.` form."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)).decode()


def sign(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` header value Meta sends with every webhook POST."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
            **value,
        }}]}],
    }


def user_messages(phone_number_id: str, wa_id: str, name: str, messages: list[dict[str, Any]],
                  user_id: str | None = None) -> dict[str, Any]:
    """A payload with one or more messages from one user (`wa_id` may be empty for username users)."""
    contact: dict[str, Any] = {"profile": {"name": name}}
    if wa_id:
        contact["wa_id"] = wa_id
    if user_id:
        contact["user_id"] = user_id
    stamped = []
    for message in messages:
        sender = {"from": wa_id} if wa_id else {}
        if user_id:
            sender["from_user_id"] = user_id
        stamped.append({**sender, "id": message_id(), "timestamp": str(int(time.time())), **message})
    return envelope(phone_number_id, {"contacts": [contact], "messages": stamped})


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def button_reply(button_id: str, title: str) -> dict[str, Any]:
    return {"type": "interactive", "context": {"from": DISPLAY_NUMBER, "id": message_id()},
            "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}}


def list_reply(row_id: str, title: str, description: str = "") -> dict[str, Any]:
    reply = {"id": row_id, "title": title}
    if description:
        reply["description"] = description
    return {"type": "interactive", "context": {"from": DISPLAY_NUMBER, "id": message_id()},
            "interactive": {"type": "list_reply", "list_reply": reply}}


def media(kind: str, media_id: str, mime_type: str, sha256_b64: str, *, caption: str | None = None,
          filename: str | None = None, voice: bool = False) -> dict[str, Any]:
    """image, audio, video, document or sticker; `sha256_b64` as WhatsApp sends it (base64)."""
    body: dict[str, Any] = {"id": media_id, "mime_type": mime_type, "sha256": sha256_b64}
    if caption is not None and kind in ("image", "video", "document"):
        body["caption"] = caption
    if filename is not None and kind == "document":
        body["filename"] = filename
    if kind == "audio":
        body["voice"] = voice
    if kind == "sticker":
        body["animated"] = False
    return {"type": kind, kind: body}


def location(latitude: float, longitude: float, name: str = "", address: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        body["name"] = name
    if address:
        body["address"] = address
    return {"type": "location", "location": body}


def contacts(name: str, phone: str) -> dict[str, Any]:
    return {"type": "contacts", "contacts": [{
        "name": {"formatted_name": name, "first_name": name},
        "phones": [{"phone": phone, "type": "CELL", "wa_id": phone.lstrip("+").replace(" ", "")}]}]}


def reaction(to_message_id: str, emoji: str) -> dict[str, Any]:
    return {"type": "reaction", "reaction": {"message_id": to_message_id, "emoji": emoji}}


def unsupported() -> dict[str, Any]:
    return {"type": "unsupported", "errors": [{
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."}}]}


def statuses(phone_number_id: str, wa_id: str, outbound_id: str, status: str,
             callback_data: str | None = None) -> dict[str, Any]:
    """A delivery receipt (sent, delivered, read or failed) for a message the bot sent; Meta echoes the
    message's `biz_opaque_callback_data`."""
    receipt: dict[str, Any] = {"id": outbound_id, "status": status, "timestamp": str(int(time.time())),
                               "recipient_id": wa_id}
    if callback_data:
        receipt["biz_opaque_callback_data"] = callback_data
    if status == "failed":
        receipt["errors"] = [{"code": 131047, "title": "Re-engagement message"}]
    else:
        receipt["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        receipt["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    return envelope(phone_number_id, {"statuses": [receipt]})


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()
