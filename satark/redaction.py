"""Patterns for values that identify a person or open a report, and how they are hidden.

Used by the log filter (`satark.logs`) and the tracker store (`satark.tracker_store`): the second
line of defence behind the connector, which already keeps identities out of everything it hands on.
"""

from __future__ import annotations

import re

from satark.receipts import ALPHABET

_CODE_CHAR = f"[{ALPHABET}{ALPHABET.lower()}]"
# A receipt code as people type it: 12 characters, optionally in groups of four.
RECEIPT_CODE = re.compile(
    rf"(?<![0-9A-Za-z]){_CODE_CHAR}{{4}}[\s\-_.]?{_CODE_CHAR}{{4}}[\s\-_.]?{_CODE_CHAR}{{4}}(?![0-9A-Za-z])")
# A public report number: district code, year, five characters (GZP-2026-7K3QX, also GZP-2026-00042).
PUBLIC_NUMBER = re.compile(r"(?<![0-9A-Za-z])[A-Z]{2,6}-\d{4}-[0-9A-Z]{5}(?![0-9A-Za-z])")
# Phone numbers and WhatsApp ids: ten or more digits, possibly with spaces, dots, dashes, a plus.
PHONE = re.compile(r"(?<![\w.])\+?(?:\d[\s\-.\u00a0]?){9,14}\d(?![\w])")
# WhatsApp message ids base64-encode the sender's number.
WAMID = re.compile(r"wamid\.[A-Za-z0-9+/=_\-]+")
# Random 128-bit keys as the actions draw them (draft keys derive receipt codes; Rasa logs slot values).
RANDOM_KEY = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])")

REDACTED = "[redacted]"


def redact(text: str) -> str:
    """The text with phone numbers, WhatsApp ids, message ids, random keys, receipt codes and report
    numbers hidden (for logs)."""
    text = WAMID.sub("[wamid]", text)
    text = RANDOM_KEY.sub("[key]", text)
    text = PUBLIC_NUMBER.sub("[report]", text)
    text = RECEIPT_CODE.sub(_code_or_word, text)
    return PHONE.sub("[number]", text)


def _looks_like_code(candidate: str) -> bool:
    """Codes are upper case or contain a digit (97% of codes do); plain words ("successfully",
    "happened when") are not. The tracker store, which holds what citizens type, redacts every shape."""
    return candidate.isupper() or any(ch.isdigit() for ch in candidate)


def _code_or_word(match: re.Match) -> str:
    return "[code]" if _looks_like_code(match.group(0)) else match.group(0)


def mentions_report(text: str) -> bool:
    """True when a text names a receipt code or a public report number."""
    return bool(PUBLIC_NUMBER.search(text) or any(_looks_like_code(m.group(0)) for m in RECEIPT_CODE.finditer(text)))
