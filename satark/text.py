"""Text normalisation shared by district matching, receipt codes and NLU."""

from __future__ import annotations

import re
import unicodedata

NUKTA = "\u093c"
# Invisible characters phones and copy-paste insert: zero-width (non-)joiners and spaces, BOM,
# soft hyphen, direction marks, invisible operators and emoji variation selectors.
ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u2061\u2062\u2063\u2064\ufe0e\ufe0f"), None
)
# Nukta letters in their precomposed form, mapped to the plain letter citizens usually type.
NUKTA_LETTERS = str.maketrans({
    "\u0958": "\u0915", "\u0959": "\u0916", "\u095a": "\u0917", "\u095b": "\u091c",
    "\u095c": "\u0921", "\u095d": "\u0922", "\u095e": "\u092b", "\u095f": "\u092f",
    "\u0929": "\u0928", "\u0931": "\u0930", "\u0934": "\u0933",
})
DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
CHANDRABINDU = "\u0901"
ANUSVARA = "\u0902"


def normalize_hindi(text: str) -> str:
    """NFC, no zero-width characters, nukta and chandrabindu folded, Devanagari digits as ASCII."""
    text = unicodedata.normalize("NFC", text).translate(ZERO_WIDTH)
    text = text.translate(NUKTA_LETTERS).replace(NUKTA, "").replace(CHANDRABINDU, ANUSVARA)
    return text.translate(DEVANAGARI_DIGITS)


def match_key(text: str) -> str:
    """A lower-case, punctuation-free form for comparing names typed in either script."""
    text = normalize_hindi(text).casefold()
    text = re.sub(r"[^\w\u0900-\u097f]+", " ", text)
    return " ".join(text.split())


ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary where one is near, with "…".

    The one truncation helper: drafts, summaries, button titles and list rows all use it.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS
