"""A tokenizer that keeps Devanagari words whole and normalises them.

Rasa's ``WhitespaceTokenizer`` splits correctly (it uses the ``regex`` module) but does not
normalise, drops emoji, and leaves Devanagari punctuation (danda) glued to the words in some
positions. This tokenizer:

* finds words with the ``regex`` module, where ``\\p{M}`` (vowel signs, virama, nukta,
  anusvara) belongs to the word: ``"हत्या शराब"`` gives the two words ``हत्या`` and ``शराब``;
* normalises each token's text with :func:`satark.text.normalize_hindi` (NFC, zero-width
  and other invisible characters removed, nukta and chandrabindu folded, Devanagari digits as
  ASCII);
* keeps emoji as tokens of their own (``🐄``, ``🔫`` carry meaning in complaints);
* sets each token's ``lemma`` to the script-independent phonetic key
  (:func:`nlu_components.shared_form.phonetic_key`), so a ``CountVectorsFeaturizer`` with
  ``use_lemma: true`` sees ``शराब`` and ``sharab`` as the same word, while one with
  ``use_lemma: false`` sees the normalised spelling.

Token offsets always point into the original, unmodified message text, so entity extraction and
the message text kept by the dialogue are unaffected.
"""

from __future__ import annotations

from typing import Any

import regex
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from nlu_components.shared_form import phonetic_key
from satark.text import normalize_hindi

# A word: letters, combining marks (matras, virama, nukta, anusvara), digits; inner apostrophes,
# hyphens and dots join (don't, K7QM-4XPA-9TRC, 2.5). Or a single emoji.
WORD = regex.compile(
    r"[\p{L}\p{M}\p{N}_]+(?:['’\-.][\p{L}\p{M}\p{N}_]+)*|\p{Extended_Pictographic}"
)


def split_words(text: str) -> list[Token]:
    """Tokens of ``text``: normalised text, phonetic-key lemma, offsets into ``text``."""
    tokens = []
    for match in WORD.finditer(text):
        word = normalize_hindi(match.group())
        if word:
            tokens.append(Token(word, match.start(), match.end(), lemma=phonetic_key(word)))
    if not tokens and text.strip():
        # Nothing word-like (":)", "?"): keep the whole message as one token, as Rasa does.
        stripped = text.strip()
        start = text.index(stripped)
        word = normalize_hindi(stripped) or stripped
        tokens.append(Token(word, start, start + len(stripped), lemma=word))
    return tokens


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class DevanagariTokenizer(Tokenizer):
    """Splits Devanagari, romanized Hindi and English into normalised words (see module doc)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (same keys as Rasa's tokenizers)."""
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DevanagariTokenizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenizes the text of the provided attribute of the incoming message."""
        text = message.get(attribute) or ""
        return self._apply_token_pattern(split_words(text))
