"""``CountVectorsFeaturizer`` without the Devanagari word-splitting bug.

Rasa 3.6 hard-codes the scikit-learn ``token_pattern`` ``(?u)\\b\\w+\\b`` for ``analyzer: word``.
Python's ``re`` does not count vowel signs (matras) or the virama as word characters, so the
tokens that the tokenizer produced are split again: ``हत्या शराब`` becomes ``हत``, ``य``,
``शर``, ``ब``; the vocabulary fills with syllable fragments shared by unrelated words.

The tokenizer has already decided what a word is, so this featurizer takes each token whole
(the pattern is ``(?u)[^\\s]+``). ``strip_accents`` is always off: scikit-learn's accent
stripping removes combining marks, i.e. every matra. Character analyzers (``char``/``char_wb``)
are otherwise unaffected by the bug and behave exactly as in Rasa.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from sklearn.feature_extraction.text import CountVectorizer

WHOLE_TOKEN_PATTERN = r"(?u)[^\s]+"  # noqa: S105 (a regular expression, not a password)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class DevanagariCountVectorsFeaturizer(CountVectorsFeaturizer):
    """Bag-of-words / n-gram featurizer that keeps every token whole (see module doc)."""

    @staticmethod
    def _vectorizer(
        parameters: dict[str, Any], min_df: Any, vocabulary: Any | None
    ) -> CountVectorizer:
        word = parameters["analyzer"] == "word"
        return CountVectorizer(
            token_pattern=WHOLE_TOKEN_PATTERN if word else None,
            strip_accents=None,
            lowercase=parameters["lowercase"],
            stop_words=parameters["stop_words"],
            ngram_range=(parameters["min_ngram"], parameters["max_ngram"]),
            max_df=parameters["max_df"],
            min_df=min_df,
            max_features=parameters["max_features"],
            analyzer=parameters["analyzer"],
            vocabulary=vocabulary,
        )

    @classmethod
    def _create_shared_vocab_vectorizers(
        cls, parameters: dict[str, Any], vocabulary: Any | None = None
    ) -> dict[str, CountVectorizer]:
        """Create vectorizers for all attributes with shared vocabulary."""
        shared = cls._vectorizer(parameters, parameters["min_df"], vocabulary)
        return {attribute: shared for attribute in cls._attributes_for(parameters["analyzer"])}

    @classmethod
    def _create_independent_vocab_vectorizers(
        cls, parameters: dict[str, Any], vocabulary: Any | None = None
    ) -> dict[str, CountVectorizer]:
        """Create vectorizers for all attributes with independent vocabulary."""
        from rasa.shared.nlu.constants import TEXT

        return {
            attribute: cls._vectorizer(
                parameters,
                parameters["min_df"] if attribute == TEXT else 1,
                vocabulary[attribute] if vocabulary else None,
            )
            for attribute in cls._attributes_for(parameters["analyzer"])
        }
