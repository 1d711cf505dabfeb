"""Outgoing WhatsApp message objects, and button ids that only the bot can mint.

A button id carries the Rasa payload it stands for, the offer (turn) it was sent in and a MAC
bound to the conversation's pseudonym. A reply is accepted only with a valid MAC and only from
the latest offer the conversation received, so neither forged nor stale buttons reach Rasa.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections import OrderedDict

from channels.whatsapp_texts import list_labels
from satark.anonymity import Anonymizer
from satark.text import shorten

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
REPLY_BUTTONS_MAX = 3
REPLY_TITLE_LIMIT = 20
LIST_ROWS_MAX = 10
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
OFFER_TTL_SECONDS = 24 * 3600  # WhatsApp's customer-service window
ID_VERSION = "b1"
SENTENCE_END = re.compile(r"[.?!।](?=\s)")


def truncate(text: str, limit: int) -> str:
    """A title on one line, shortened to `limit` characters."""
    return shorten(" ".join(text.split()), limit)


def _sentence_end(window: str) -> int:
    """Where the last sentence in `window` ends (after ".", "?", "!" or "।"), or -1."""
    ends = [match.end() for match in SENTENCE_END.finditer(window)]
    return ends[-1] if ends else -1


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line, sentence or word where possible."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = _sentence_end(window)
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Offers:
    """Mints and checks button ids; remembers only each pseudonym's latest offer, in memory."""

    def __init__(self, anonymizer: Anonymizer, max_conversations: int = 100_000) -> None:
        self._anonymizer = anonymizer
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._max = max_conversations

    def open(self, sender_id: str) -> int:
        """Start a new offer for this conversation; earlier buttons become stale."""
        stamp = max(int(time.time() * 1000), self._latest.get(sender_id, 0) + 1)
        self._latest[sender_id] = stamp
        self._latest.move_to_end(sender_id)
        while len(self._latest) > self._max:
            self._latest.popitem(last=False)
        return stamp

    def _mac(self, sender_id: str, stamp: int, index: int, payload: str) -> str:
        return self._anonymizer.sign("button", f"{sender_id}\x00{stamp}\x00{index}\x00{payload}")[:24]

    def button_id(self, sender_id: str, stamp: int, index: int, payload: str) -> str:
        encoded = _b64(payload.encode())
        mac = self._mac(sender_id, stamp, index, payload)
        button_id = f"{ID_VERSION}.{stamp:x}.{index}.{encoded}.{mac}"
        if len(button_id) > ROW_ID_LIMIT:
            raise ValueError(f"button payload too long for a WhatsApp id: {payload[:40]!r}")
        return button_id

    def resolve(self, sender_id: str, button_id: str) -> str | None:
        """The payload behind a button id from this conversation's latest offer, else None."""
        try:
            version, stamp_hex, index, encoded, mac = button_id.split(".")
            stamp = int(stamp_hex, 16)
            payload = _unb64(encoded).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if version != ID_VERSION or not index.isdigit():
            return None
        if not hmac.compare_digest(mac, self._mac(sender_id, stamp, int(index), payload)):
            return None
        latest = self._latest.get(sender_id)
        if latest is not None:  # known conversation: offers older than its latest are stale
            # (`>=`: with several servers, another one may have made a newer offer since)
            return payload if stamp >= latest else None
        # After a restart nothing is remembered: a genuine, recent button is still honoured.
        return payload if 0 <= time.time() * 1000 - stamp <= OFFER_TTL_SECONDS * 1000 else None


def _unique(titles: list[str], limit: int) -> list[str]:
    """WhatsApp rejects duplicate titles in one message; truncation can create them."""
    seen: set[str] = set()
    unique = []
    for title in titles:
        candidate, number = title, 2
        while candidate in seen:
            suffix = f" {number}"
            candidate, number = truncate(title, limit - len(suffix)) + suffix, number + 1
        seen.add(candidate)
        unique.append(candidate)
    return unique


def text_message(body: str) -> dict:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def choice_messages(text: str, options: list[tuple[str, str]]) -> list[dict]:
    """Messages offering `(id, title)` options: reply buttons for up to three, else list pages.

    Text too long for an interactive body goes first as plain text messages.
    """
    labels = list_labels(text)
    pieces = split_text(text, INTERACTIVE_BODY_LIMIT) or [labels["empty"]]
    messages = [text_message(piece) for piece in pieces[:-1]]
    body = pieces[-1]
    if len(options) <= REPLY_BUTTONS_MAX:
        titles = _unique([truncate(title, REPLY_TITLE_LIMIT) for _, title in options], REPLY_TITLE_LIMIT)
        buttons = [{"type": "reply", "reply": {"id": option_id, "title": title}}
                   for (option_id, _), title in zip(options, titles, strict=True)]
        messages.append({"type": "interactive", "interactive": {
            "type": "button", "body": {"text": body}, "action": {"buttons": buttons}}})
        return messages
    pages = [options[i:i + LIST_ROWS_MAX] for i in range(0, len(options), LIST_ROWS_MAX)]
    for number, page in enumerate(pages, start=1):
        titles = _unique([truncate(title, ROW_TITLE_LIMIT) for _, title in page], ROW_TITLE_LIMIT)
        rows = []
        for (option_id, full_title), title in zip(page, titles, strict=True):
            row = {"id": option_id, "title": title}
            if title != " ".join(full_title.split()):
                row["description"] = truncate(full_title, ROW_DESCRIPTION_LIMIT)
            rows.append(row)
        page_body = body if number == 1 else labels["more"].format(page=number, pages=len(pages))
        messages.append({"type": "interactive", "interactive": {
            "type": "list", "body": {"text": page_body},
            "action": {"button": labels["button"], "sections": [{"rows": rows}]}}})
    return messages
