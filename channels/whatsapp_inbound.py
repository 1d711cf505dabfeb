"""Turning a WhatsApp webhook payload into events that carry no identity.

Each message becomes an `Inbound` with a pseudonymous sender id and a keyed message key. The
reply address is kept in memory only, in a field that never shows in a repr or a log line.
Profile names, usernames and shared contacts are never read.
"""

from __future__ import annotations

import json
import logging
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone

from satark.anonymity import Anonymizer
from satark.forwarding import DeliveryStatus, forward_id_from_callback
from satark.media import IncomingMedia
from satark.settings import get_settings

log = logging.getLogger(__name__)

MEDIA_KINDS = ("image", "audio", "video", "document")
POLITE_KINDS = ("sticker", "contacts", "unsupported")
# Sent by WhatsApp itself (a user changed number, opened the chat) or a reaction (👍) to one of our
# messages: nothing to answer.
SILENT_KINDS = ("system", "request_welcome", "reaction")
# Rasa reads text starting with "/" as an intent; typed text must never be.
INTENT_PREFIX = "/"
NEUTRAL_SLASH = "\u2215"  # DIVISION SLASH: looks the same, unchanged by NFC/NFKC normalisation


@dataclass(frozen=True)
class Recipient:
    """Where the answer goes: only in memory, for the turn being answered."""

    phone: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)

    def address(self) -> dict[str, str]:
        """Meta sends to the phone number when there is one, else to the business-scoped user id."""
        return {"to": self.phone} if self.phone else {"recipient": self.user_id or ""}

    def __repr__(self) -> str:
        return "Recipient(<withheld>)"


@dataclass(frozen=True)
class Inbound:
    """One user message, reduced to what the dialogue may know."""

    sender_id: str
    message_key: str
    kind: str
    reply_to: Recipient = field(repr=False)
    text: str | None = field(default=None, repr=False)
    button_id: str | None = None
    media: IncomingMedia | None = field(default=None, repr=False)


def neutralise(text: str) -> str:
    """Typed text that looks like Rasa's intent syntax (`/affirm`) stays plain text.

    Rasa's check (`YAMLStoryReader.unpack_regex_message`) runs after the NLU pipeline on
    `text.strip()`, so an invisible prefix could be normalised away before it. Instead the first
    visible character, when it is a slash or normalises to one (U+FF0F), becomes U+2215,
    which no Unicode normalisation turns back into "/".
    """
    text = text.strip()
    for index, char in enumerate(text):
        if unicodedata.category(char)[0] in "ZC":  # spaces, controls, zero-width format chars
            continue
        if unicodedata.normalize("NFKC", char).startswith(INTENT_PREFIX):
            return text[:index] + NEUTRAL_SLASH + text[index + 1:]
        return text
    return text


def intent_message(intent: str, entities: dict[str, str]) -> str:
    """Rasa's intent syntax, for messages the connector itself constructs."""
    return f"{INTENT_PREFIX}{intent}{json.dumps(entities, ensure_ascii=False)}"


def _string(value: object) -> str | None:
    """A field's value when it is the string Meta documents; anything else counts as absent."""
    return value if isinstance(value, str) else None


def _identifier(value: object) -> str | None:
    """Ids and numbers: strings, or integers some clients send instead."""
    if isinstance(value, bool):
        return None
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


def location_text(location: dict) -> str:
    """A shared pin as one line: name, address, then `lat,lon`."""
    parts = [location[key].strip() for key in ("name", "address") if _string(location.get(key))]
    try:
        parts.append(f"{float(location['latitude']):.6f},{float(location['longitude']):.6f}")
    except (KeyError, TypeError, ValueError):
        pass
    return ", ".join(p for p in parts if p)


def _identity(message: dict, contacts: list) -> tuple[str | None, str | None, str | None]:
    """(phone to reply to, WhatsApp id, business-scoped user id) of a message's sender."""
    phone, user_id = _identifier(message.get("from")), _identifier(message.get("from_user_id"))
    wa_id = phone
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        contact_wa_id, contact_user_id = _identifier(contact.get("wa_id")), _identifier(contact.get("user_id"))
        if (phone and contact_wa_id == phone) or (user_id and contact_user_id == user_id) or len(contacts) == 1:
            wa_id, user_id = contact_wa_id or wa_id, user_id or contact_user_id
    return tuple(str(v) if v else None for v in (phone or wa_id, wa_id, user_id))  # type: ignore[return-value]


def _content(message: dict, kind: str) -> dict:
    """Fields of one message by type: text, button_id or media."""
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return {"kind": "text", "text": _string(body.get("body")) or ""}
    if kind == "interactive":
        reply_type = _string(body.get("type"))
        reply = body.get(reply_type) if reply_type in ("button_reply", "list_reply") else None
        if isinstance(reply, dict):
            return {"kind": "button", "button_id": _string(reply.get("id")) or ""}
        return {"kind": "unsupported"}
    if kind == "button":  # a quick-reply button of a template message
        return {"kind": "button", "button_id": _string(body.get("payload")) or ""}
    if kind in MEDIA_KINDS:
        media_id = _identifier(body.get("id"))
        if not media_id:
            return {"kind": "unsupported"}
        return {"kind": kind, "media": IncomingMedia(
            kind=kind, media_id=media_id, mime_type=_string(body.get("mime_type")),
            sha256=_string(body.get("sha256")), caption=_string(body.get("caption")) or None,
            voice=body.get("voice") is True)}
    if kind == "location":
        text = location_text(body)
        return {"kind": "location", "text": text} if text else {"kind": "unsupported"}
    if kind in SILENT_KINDS:
        return {"kind": "silent"}
    return {"kind": kind if kind in POLITE_KINDS else "unsupported"}


def parse_webhook(payload: object, anonymizer: Anonymizer, phone_number_id: str) -> list[Inbound]:
    """Every user message in the payload, in order; delivery statuses are skipped silently."""
    events: list[Inbound] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
                continue  # statuses (sent/delivered/read/failed) and other fields
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            if str(metadata.get("phone_number_id", phone_number_id)) != phone_number_id:
                log.warning("webhook for another phone number id ignored")
                continue
            for message in value["messages"]:
                event = _event(message, value.get("contacts") or [], anonymizer)
                if event is not None:
                    events.append(event)
    return events


def too_old(timestamp: object, max_age_minutes: int, now: float | None = None) -> bool:
    """True for a message sent longer ago than `max_age_minutes` (WhatsApp redelivers for days; past
    the 24-hour window the bot could not answer anyway). An unreadable timestamp is not judged."""
    try:
        sent = int(str(timestamp))
    except ValueError:
        return False
    return (now if now is not None else time.time()) - sent > max_age_minutes * 60


def _event(message: object, contacts: list, anonymizer: Anonymizer) -> Inbound | None:
    message_id = _identifier(message.get("id")) if isinstance(message, dict) else None
    if message_id is None:
        return None
    phone, wa_id, user_id = _identity(message, contacts)
    if not wa_id and not user_id:
        log.warning("message without a sender ignored")
        return None
    if too_old(message.get("timestamp"), get_settings().max_message_age_minutes):
        log.info("message older than MAX_MESSAGE_AGE_MINUTES ignored")
        return None
    content = _content(message, _string(message.get("type")) or "unsupported")
    return Inbound(
        sender_id=anonymizer.sender_id(wa_id=wa_id, user_id=user_id),
        message_key=anonymizer.message_key(message_id),
        reply_to=Recipient(phone=phone, user_id=user_id),
        **content,
    )


def delivery_statuses(payload: object, phone_number_id: str) -> list[DeliveryStatus]:
    """The delivery receipts in a payload (message id, status, time); the recipient is not read."""
    found: list[DeliveryStatus] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or not isinstance(value.get("statuses"), list):
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            if str(metadata.get("phone_number_id", phone_number_id)) != phone_number_id:
                continue
            for status in value["statuses"]:
                if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
                    continue
                try:
                    at = datetime.fromtimestamp(int(status.get("timestamp")), timezone.utc)
                except (TypeError, ValueError, OverflowError):
                    at = datetime.now(timezone.utc)
                found.append(DeliveryStatus(str(status["id"]), str(status["status"]), at,
                                            forward_id_from_callback(status.get("biz_opaque_callback_data"))))
    return found
