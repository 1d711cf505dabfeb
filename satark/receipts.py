"""Receipt codes: the reporter's only key to a report, stored only as a keyed hash.

A code is derived from the draft's random 128-bit key under the server secret, so a retried
submit gives the citizen the same code. Neither the code nor the draft key is stored: the report
keeps keyed hashes of both, and the conversation store forgets the draft key once the draft is
closed (`satark.tracker_store`). Without the draft key nobody, not even with the secret and the
whole database, can recompute a code.
"""

from __future__ import annotations

import hashlib
import hmac
import re

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud and type
GROUPS, GROUP_LENGTH = 3, 4
CODE_LENGTH = GROUPS * GROUP_LENGTH  # 12 characters of 5 bits: 60 bits
CODE_PATTERN = re.compile(rf"[{ALPHABET}]{{{CODE_LENGTH}}}")


def receipt_code_for(draft_key: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"receipt:{draft_key}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:8], "big")
    chars = [ALPHABET[(value >> (5 * i)) & 31] for i in range(CODE_LENGTH)]
    raw = "".join(chars)
    return "-".join(raw[i:i + GROUP_LENGTH] for i in range(0, CODE_LENGTH, GROUP_LENGTH))


def normalize_code(text: str | None) -> str | None:
    """The canonical 12 characters of a code typed with spaces, hyphens or lower case."""
    if not text:
        return None
    compact = re.sub(r"[\s\-_.]", "", text).upper()
    return compact if CODE_PATTERN.fullmatch(compact) else None


def find_code(text: str | None) -> str | None:
    """A receipt code somewhere in a message ("status k7qm 4xpa 9trc please")."""
    if not text:
        return None
    pattern = rf"(?<![0-9A-Za-z])([{ALPHABET}]{{4}})[\s\-]?([{ALPHABET}]{{4}})[\s\-]?([{ALPHABET}]{{4}})(?![0-9A-Za-z])"
    for match in re.finditer(pattern, text.upper()):
        code = "".join(match.groups())
        # Written with hyphens, or with a digit: "Dhanapur ghat" has the shape but is a place.
        if "-" in match.group(0) or any(ch.isdigit() for ch in code):
            return code
    return None


def draft_key_hash(draft_key: str, secret: str) -> str:
    """What the report stores to recognise a retried submit: the draft key itself would derive the code."""
    return hmac.new(secret.encode(), f"draft:{draft_key}".encode(), hashlib.sha256).hexdigest()


def receipt_hash(code: str, secret: str) -> str:
    normalized = normalize_code(code)
    if normalized is None:
        raise ValueError("not a receipt code")
    return hmac.new(secret.encode(), f"lookup:{normalized}".encode(), hashlib.sha256).hexdigest()


def format_code(code: str) -> str:
    compact = normalize_code(code) or code
    return "-".join(compact[i:i + GROUP_LENGTH] for i in range(0, len(compact), GROUP_LENGTH))
