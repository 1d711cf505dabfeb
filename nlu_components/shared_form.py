"""A script-independent phonetic key, so that "sharab", "sharaab" and "शराब" meet.

Citizens write the same Hindi word in Devanagari or in Latin letters, and in Latin letters with
many spellings (sharab / sharaab / sarab, kachchi / kachi / kacchi, gaanja / ganja). The key is a
consonant skeleton:

1. Devanagari is transliterated letter by letter into a loose Latin form (every vowel becomes
   ``a``, anusvara ``n``, virama nothing);
2. digraphs and spelling variants are folded (``chh``/``ch`` -> ``c``, ``sh`` -> ``s``, aspirates
   lose their ``h``, ``w`` -> ``v``, ``z`` -> ``j``, ``q`` -> ``k``, ``ph`` -> ``f``);
3. vowels are dropped (a word that starts with a vowel keeps one ``a``) and doubled letters
   collapse.

So ``शराब``, ``sharab``, ``sharaab`` and ``sarab`` all give ``srb``; ``कच्ची``, ``kachchi``,
``kachi`` give ``kc``. The key is lossy on purpose: it is one feature view among others (the
original spelling is featurized too), not a replacement for the text.
"""

from __future__ import annotations

import re

from satark.text import normalize_hindi

# Devanagari consonants (after normalize_hindi, so no nukta forms) in a loose Latin spelling.
_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n",
    "च": "ch", "छ": "chh", "ज": "j", "झ": "jh", "ञ": "n",
    "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n",
    "त": "t", "थ": "th", "द": "d", "ध": "dh", "न": "n",
    "प": "p", "फ": "ph", "ब": "b", "भ": "bh", "म": "m",
    "य": "y", "र": "r", "ल": "l", "ळ": "l", "व": "v",
    "श": "sh", "ष": "sh", "स": "s", "ह": "h",
}
# Independent vowels and vowel signs: all just "a" (vowels are dropped from the key anyway;
# the "a" keeps consonants of neighbouring syllables from forming digraphs like s+h).
_INDEPENDENT_VOWELS = "अआइईउऊऋॠऌएऐऑओऔऍ"
_VOWEL_SIGNS = "ािीुूृॄॅॆेैॉॊोौॢॣ"
_VOWELS = _INDEPENDENT_VOWELS + _VOWEL_SIGNS
_DEVANAGARI = {**_CONSONANTS, **dict.fromkeys(_VOWELS, "a"),
               "ं": "n", "ः": "h", "ँ": "n", "्": "", "ऽ": "", "़": ""}
_SIGNS = set(_VOWEL_SIGNS) | {"्", "़"}
# Common conjuncts whose romanized spelling is not letter-by-letter.
_CONJUNCTS = (("ज्ञ", "gy"), ("क्ष", "ksh"), ("श्र", "shr"))

# Latin spelling folds, applied in order (longest first where they overlap).
_LATIN_FOLDS = (
    (re.compile(r"chh|ch"), "C"),      # placeholder, so the English c below does not catch it
    (re.compile(r"sh|ss"), "s"),
    (re.compile(r"ph|f"), "f"),
    (re.compile(r"kh|gh|th|dh|bh|jh|rh|lh"), lambda m: m.group(0)[0]),
    (re.compile(r"c(?=[eiy])"), "s"),   # English soft c: police, office
    (re.compile(r"ck|c|q"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"w"), "v"),
    (re.compile(r"z"), "j"),
)
# Everything that is not a Latin letter or digit after transliteration stays as it is
# (emoji, other scripts) and the key is then the normalised token itself.
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_VOWEL_RUN = re.compile(r"[aeiou]+")
_REPEATS = re.compile(r"(.)\1+")


def transliterate(word: str) -> str:
    """Letter-by-letter loose Latin form of a (normalised) Devanagari word; Latin passes through.

    A consonant not followed by a vowel sign or virama gets its inherent ``a``.
    """
    for conjunct, latin in _CONJUNCTS:
        word = word.replace(conjunct, latin)
    out = []
    for i, ch in enumerate(word):
        out.append(_DEVANAGARI.get(ch, ch))
        if ch in _CONSONANTS and (i + 1 == len(word) or word[i + 1] not in _SIGNS):
            out.append("a")
    return "".join(out)


def phonetic_key(word: str) -> str:
    """The shared form of one word (Devanagari or romanized Hindi or English)."""
    word = transliterate(normalize_hindi(word).casefold())
    if not _LATIN_WORD.fullmatch(word):
        return word
    if word.isdigit():
        return word
    for pattern, replacement in _LATIN_FOLDS:
        word = pattern.sub(replacement, word)
    initial_vowel = word[0] in "aeiou"
    word = _REPEATS.sub(r"\1", _VOWEL_RUN.sub("", word))
    if initial_vowel or not word:
        word = "a" + word
    return word.replace("C", "ch")
