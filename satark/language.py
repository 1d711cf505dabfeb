"""Which language a citizen writes in: the one detector used by the NLU pipeline and the actions.

Romanized Hindi ("gaon me sharab bikti hai") shares its alphabet with English, so the decision
counts frequent function words of each language; keyword-only messages fall back to how many
words end in a vowel (most Hindi words do). `language_clue` is stricter: it answers only when the
message really shows a language, so "Hi" or an emoji still gets the language question.
"""

from __future__ import annotations

import re

DEVANAGARI = re.compile(r"[\u0900-\u097f]")
LATIN_WORD = re.compile(r"[a-z']+")
# Frequent romanized-Hindi words that are not English words (or rare in English).
HINDI_WORDS = frozenset(
    """hai h hain he ho hota hoti hote tha thi the_ raha rahe rahi rha rhe rhi kar karo karte karta
    karti kiya kiye ki ka ke ko se me mein mai main mera meri mere hamara hamare hamari humare apna
    apne apni nahi nhi nahin na bhi aur ya koi kuch kya kyu kyon kaise kab kaha kahan yaha yahan
    waha wahan ye yeh wo woh vo unka unke unki iska iske uska uske usko isko jo jab tab sab log
    logo gaon gaanv gao gaav gav mohalle mohalla wala wale wali raat din roj rozana bahut bohot bhai
    bhaiya ji sahab saab par pe tak liye diya dete deta deti lete leta jata jati jate jaate jaata
    hua hui hue ek do teen char paanch chahiye batao bataye dijiye kijiye pata abhi phir fir saath
    sath baad pehle pahle andar bahar upar niche dusre dusra sabko inko unko jaldi madad namaste
    namaskar pranam kal aaj sham shaam subah thana""".split()
)
ENGLISH_WORDS = frozenset(
    """the a an is are was were be been am i you he she it we they my our your his her their this
    that these those there here of to in on at for from with by and or but not no please someone
    something every night day people village near who what when where why how have has had do does
    did will would can could should police report want need help there's it's i'm yesterday today
    evening morning station sold selling being""".split()
)


def script_of(text: str) -> str:
    """'devanagari', 'romanized' (Hindi in Latin letters) or 'english' for one message."""
    if DEVANAGARI.search(text):
        return "devanagari"
    words = LATIN_WORD.findall(text.lower())
    hindi = sum(w in HINDI_WORDS for w in words)
    english = sum(w in ENGLISH_WORDS for w in words)
    if hindi == english and words:
        # No function words either way (short keyword messages): Hindi words mostly end in a vowel.
        return "romanized" if sum(w[-1] in "aeiou" for w in words) * 2 > len(words) else "english"
    return "romanized" if hindi > english else "english"


def language_clue(text: str) -> str | None:
    """'hi' or 'en' when the message shows the writer's language, None when it does not ("Hi", 🙏)."""
    if DEVANAGARI.search(text):
        return "hi"
    words = LATIN_WORD.findall(text.lower())
    hindi = sum(w in HINDI_WORDS for w in words)
    english = sum(w in ENGLISH_WORDS for w in words)
    if hindi == english:
        return None
    return "hi" if hindi > english else "en"
