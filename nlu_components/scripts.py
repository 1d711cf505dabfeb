"""Romanized Hindi written in Devanagari for the sentence encoder.

The script detector itself lives in `satark.language` (one detector for the NLU pipeline, the
actions and the benchmark).
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

from satark.language import script_of


@functools.cache
def load_transliterator() -> ModuleType:
    """``dhvani``, with its lexicons loaded (about 2 s and 300 MB, once per process).

    dhvani can keep words it learns in ``~/.dhwani/cache.json``: the cache path is pointed at
    ``/dev/null`` before dhvani reads it, so citizens' words stay in memory.
    """
    os.environ["DHWANI_CACHE_PATH"] = os.devnull
    import dhvani
    from dhvani.lexicon.lookup import lookup_ipa

    dhvani.to_devanagari("sharab")  # the spelling-variant map loads on first use
    # The pronunciation lexicon loads only for a word the variant map lacks: now, not during
    # the first such citizen message (2 s of CPU in the middle of a parse).
    lookup_ipa("sharab")
    return dhvani


def romanized_to_devanagari(text: str) -> str:
    """The message in Devanagari if it is romanized Hindi; any other message unchanged.

    The multilingual sentence encoder was trained on Hindi in Devanagari and represents
    "kachi daru banti hai" poorly; written as "कच्ची दारू बनती है" it lands next to the
    Devanagari and English complaints about the same crime (bench/README.md: +1.8 points of
    cross-validation macro-F1, romanized accuracy 0.86 → 0.92). ``dhvani`` keeps English words it
    knows and looks words up in a lexicon shipped inside its wheel (no download; well under 1 ms
    per message once loaded).
    """
    if script_of(text) != "romanized":
        return text
    return load_transliterator().to_devanagari(text)
