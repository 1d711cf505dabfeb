"""``CountVectorsFeaturizer`` without the Devanagari word-splitting bug.

Rasa 3.6 hard-codes the scikit-learn ``token_pattern`` ``(?u)\\b\\w+\\b`` for ``analyzer: word``.
Python's ``re`` does not count vowel signs (matras) or the virama as word characters, so the
tokens that the tokenizer produced are split again: ``हत्या शराब`` becomes ``हत``, ``य``,
``शर``, ``ब``; the vocabulary fills with syllable fragments shared by unrelated words.

The tokenizer has already decided what a word is, so this featurizer takes each token whole
(the pattern is ``(?u)[^\\s]+``). ``strip_accents`` is always off: scikit-learn's accent
stripping removes combining marks, i.e. every matra. Character analyzers (``char``/``char_wb``)
are otherwise unaffected by the bug and behave exactly as in Rasa.

Where a message's sentence counts are the sum of its tokens' counts (whole-token words without
n-grams, and ``char_wb``, whose n-grams never cross a word boundary), the sentence feature is
that sum instead of a second pass of the vectorizer over the joined tokens: the same numbers for
about half the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
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

    def _sentence_is_sum_of_tokens(self) -> bool:
        """Whether counting the joined tokens gives the sum of counting each token."""
        return self.analyzer == "char_wb" or (self.analyzer == "word" and self.max_ngram == 1)

    def _create_features(
        self, attribute: str, all_tokens: list[list[str]]
    ) -> tuple[list[scipy.sparse.spmatrix | None], list[scipy.sparse.spmatrix | None]]:
        """Sequence and sentence features; the sentence ones summed from the sequence where equal."""
        if not self._sentence_is_sum_of_tokens() or not self.vectorizers.get(attribute):
            return super()._create_features(attribute, all_tokens)
        sequence_features: list[scipy.sparse.spmatrix | None] = []
        sentence_features: list[scipy.sparse.spmatrix | None] = []
        for tokens in all_tokens:
            if not tokens:
                sequence_features.append(None)
                sentence_features.append(None)
                continue
            per_token = self.vectorizers[attribute].transform(tokens)
            per_token.sort_indices()
            sequence_features.append(per_token.tocoo())
            sentence_features.append(
                _column_sums(per_token) if attribute in DENSE_FEATURIZABLE_ATTRIBUTES else None
            )
        return sequence_features, sentence_features


def _column_sums(matrix: scipy.sparse.csr_matrix) -> scipy.sparse.coo_matrix:
    """One row: each column's sum, non-zero columns only, in column order."""
    columns, position = np.unique(matrix.indices, return_inverse=True)
    sums = np.zeros(len(columns), dtype=matrix.dtype)
    np.add.at(sums, position, matrix.data)
    rows = np.zeros(len(columns), dtype=columns.dtype)
    return scipy.sparse.coo_matrix((sums, (rows, columns)), shape=(1, matrix.shape[1]))
