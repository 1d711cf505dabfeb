"""Turning a WhatsApp webhook payload into events that carry no identity.

Each message becomes an `Inbound` with a pseudonymous sender id and a keyed message key. The
reply address is kept in memory only, in a field that never shows in a repr or a log line.
Profile names, usernames and shared contacts are never read.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import dataclass, field

from satark.anonymity import Anonymizer
from satark.media import IncomingMedia

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


def location_text(location: dict) -> str:
    """A shared pin as one line: name, address, then `lat,lon`."""
    parts = [str(location[key]).strip() for key in ("name", "address") if location.get(key)]
    try:
        parts.append(f"{float(location['latitude']):.6f},{float(location['longitude']):.6f}")
    except (KeyError, TypeError, ValueError):
        pass
    return ", ".join(p for p in parts if p)


def _identity(message: dict, contacts: list) -> tuple[str | None, str | None, str | None]:
    """(phone to reply to, WhatsApp id, business-scoped user id) of a message's sender."""
    phone, user_id = message.get("from"), message.get("from_user_id")
    wa_id = phone
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        if (phone and contact.get("wa_id") == phone) or (user_id and contact.get("user_id") == user_id) \
                or len(contacts) == 1:
            wa_id, user_id = contact.get("wa_id") or wa_id, user_id or contact.get("user_id")
    return tuple(str(v) if v else None for v in (phone or wa_id, wa_id, user_id))  # type: ignore[return-value]


def _content(message: dict, kind: str) -> dict:
    """Fields of one message by type: text, button_id or media."""
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return {"kind": "text", "text": str(body.get("body", ""))}
    if kind == "interactive":
        reply = body.get(body.get("type", "")) if body.get("type") in ("button_reply", "list_reply") else None
        if isinstance(reply, dict):
            return {"kind": "button", "button_id": str(reply.get("id", ""))}
        return {"kind": "unsupported"}
    if kind == "button":  # a quick-reply button of a template message
        return {"kind": "button", "button_id": str(body.get("payload", ""))}
    if kind in MEDIA_KINDS:
        if not body.get("id"):
            return {"kind": "unsupported"}
        return {"kind": kind, "media": IncomingMedia(
            kind=kind, media_id=str(body["id"]), mime_type=body.get("mime_type"),
            sha256=body.get("sha256"), caption=(body.get("caption") or None), voice=bool(body.get("voice")))}
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


def _event(message: object, contacts: list, anonymizer: Anonymizer) -> Inbound | None:
    if not isinstance(message, dict) or not message.get("id"):
        return None
    phone, wa_id, user_id = _identity(message, contacts)
    if not wa_id and not user_id:
        log.warning("message without a sender ignored")
        return None
    content = _content(message, str(message.get("type", "unsupported")))
    return Inbound(
        sender_id=anonymizer.sender_id(wa_id=wa_id, user_id=user_id),
        message_key=anonymizer.message_key(str(message["id"])),
        reply_to=Recipient(phone=phone, user_id=user_id),
        **content,
    )
