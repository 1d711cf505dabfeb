"""Which script a message is written in: Devanagari, English, or Hindi typed in Latin letters.

Romanized Hindi ("gaon me sharab bikti hai") shares its alphabet with English, so the decision
counts frequent function words of each language; keyword-only messages fall back to how many
words end in a vowel (most Hindi words do). Used to transliterate romanized Hindi before the
sentence encoder and to split the benchmark's accuracy by script.
"""

from __future__ import annotations

import functools
import os
import re
from types import ModuleType

DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# Frequent romanized-Hindi words that are not English words (or rare in English).
HINDI_WORDS = set(
    """hai h hain he ho hota hoti hote tha thi the_ raha rahe rahi rha rhe rhi kar karo karte karta
    karti kiya kiye ki ka ke ko se me mein mai main mera meri mere hamara hamare hamari humare apna
    apne apni nahi nhi nahin na bhi aur ya koi kuch kya kyu kyon kaise kab kaha kahan yaha yahan
    waha wahan ye yeh wo woh vo unka unke unki iska iske uska uske usko isko jo jab tab sab log
    logo gaon gaanv gao mohalle mohalla wala wale wali raat din roj rozana bahut bohot bhai bhaiya
    ji sahab saab par pe tak liye diya dete deta deti lete leta jata jati jate jaate jaata hua hui
    hue ek do teen char paanch chahiye batao bataye dijiye kijiye pata abhi phir fir saath sath
    baad pehle pahle andar bahar upar niche dusre dusra sabko inko unko jaldi madad""".split()
)
ENGLISH_WORDS = set(
    """the a an is are was were be been am i you he she it we they my our your his her their this
    that these those there here of to in on at for from with by and or but not no please someone
    something every night day people village near who what when where why how have has had do does
    did will would can could should police report want need help there's it's i'm""".split()
)


def script_of(text: str) -> str:
    """'devanagari', 'romanized' (Hindi in Latin letters) or 'english' for one message."""
    if DEVANAGARI.search(text):
        return "devanagari"
    words = re.findall(r"[a-z']+", text.lower())
    hindi = sum(w in HINDI_WORDS for w in words)
    english = sum(w in ENGLISH_WORDS for w in words)
    if hindi == english and words:
        # No function words either way (short keyword messages): Hindi words mostly end in a vowel.
        return "romanized" if sum(w[-1] in "aeiou" for w in words) * 2 > len(words) else "english"
    return "romanized" if hindi > english else "english"


@functools.cache
def load_transliterator() -> ModuleType:
    """``dhvani``, with its lexicon loaded (about 2 s and 300 MB, once per process).

    dhvani can keep words it learns in ``~/.dhwani/cache.json``: the cache path is pointed at
    ``/dev/null`` before dhvani reads it, so citizens' words stay in memory.
    """
    os.environ["DHWANI_CACHE_PATH"] = os.devnull
    import dhvani

    dhvani.to_devanagari("sharab")  # the lexicon loads on first use
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
