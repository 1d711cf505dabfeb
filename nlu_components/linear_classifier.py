"""A fast, well-scaled linear intent classifier.

Rasa's ``LogisticRegressionClassifier`` feeds raw counts from every featurizer, concatenated,
to scikit-learn with a fixed ``C=1``: long messages dominate, character n-gram blocks (tens of
thousands of columns) drown the word and embedding blocks, and the model underfits. DIET trains
well but takes minutes per training on two shared cores.

This classifier takes the *sentence* features of each featurizer as a separate block,
scales each block on its own (sparse counts: ``log(1 + count)`` and unit length; dense
vectors: unit length), weights the blocks (``block_weights``, by featurizer name; default 1),
and fits a multinomial logistic regression. Training takes seconds. Prediction works on each
message's few non-zero features and the matching rows of the weights (no scipy matrices are
built per message: that took most of a parse's non-embedding CPU). The model is stored as plain
numpy arrays (no pickle).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


def scale_block(matrix: Any, sparse: bool) -> scipy.sparse.csr_matrix:
    """log(1 + x) for counts, then each row to unit length."""
    block = scipy.sparse.csr_matrix(matrix, dtype=np.float64)
    if sparse:
        block.data = np.log1p(np.abs(block.data)) * np.sign(block.data)
    norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return scipy.sparse.diags(1.0 / norms) @ block


def _nonzero_entries(row: Any) -> tuple[np.ndarray | slice, np.ndarray]:
    """Columns and float64 values of a one-row feature: sparse ones summed per column, dense all."""
    if scipy.sparse.issparse(row):
        entries = row.tocoo()
        columns, values = entries.col, entries.data.astype(np.float64)
        if np.any(columns[1:] <= columns[:-1]):  # not the usual sorted, distinct columns
            columns, position = np.unique(columns, return_inverse=True)
            values = np.bincount(position, weights=values, minlength=len(columns))
        return columns, values
    return slice(None), np.asarray(row, dtype=np.float64).ravel()


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression over per-featurizer scaled sentence features."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config."""
        return {
            # inverse regularisation strength of the logistic regression
            "C": 20.0,
            "max_iter": 1000,
            # weight per featurizer block, by the featurizer's name (its `alias` or the
            # node name Rasa gives it); blocks not named get 1.0
            "block_weights": {},
            # weight each class inversely to its number of examples
            "class_weight": "balanced",
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        classes: list[str] | None = None,
        blocks: list[tuple[str, bool, int]] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights
        self.bias = bias
        self.classes = classes or []
        # (origin, is_sparse, width) of each feature block, in training order
        self.blocks = blocks or []
        self._class_weights = self._class_weights_per_block()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        """Creates a new untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    # --- features ------------------------------------------------------------------------

    @staticmethod
    def _sentence_blocks(message: Message) -> dict[tuple[str, bool], Any]:
        blocks = {}
        for feature in message.features:
            if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE:
                origin = feature.origin
                name = "+".join(origin) if isinstance(origin, (list, tuple)) else str(origin or "")
                blocks[(name, feature.is_sparse())] = feature.features
        return blocks

    def _class_weights_per_block(self) -> list[tuple[str, bool, float, np.ndarray]]:
        """(origin, is_sparse, block weight, feature x class weights) of each block, made once.

        The weights are stored class x feature; a message's non-zero features pick rows of the
        transposed, contiguous copy.
        """
        if self.weights is None:
            return []
        by_feature = np.ascontiguousarray(self.weights.T)
        block_weights = self._config["block_weights"] or {}
        per_block, start = [], 0
        for origin, sparse, width in self.blocks:
            rows = by_feature[start : start + width]
            per_block.append((origin, sparse, float(block_weights.get(origin, 1.0)), rows))
            start += width
        return per_block

    def _scores(self, message: Message) -> np.ndarray:
        """Class scores of one message: the same as a row of ``_matrix(...) @ weights.T + bias``."""
        features = self._sentence_blocks(message)
        scores = self.bias.astype(np.float64)
        for origin, sparse, block_weight, class_weights in self._class_weights:
            value = features.get((origin, sparse))
            if value is None:
                continue
            columns, values = _nonzero_entries(value)
            if sparse:
                values = np.log1p(np.abs(values)) * np.sign(values)
            norm = np.sqrt(values @ values)
            if norm == 0:
                continue
            scores += (values @ class_weights[columns].astype(np.float64)) * (block_weight / norm)
        return scores

    def _matrix(self, messages: list[Message]) -> scipy.sparse.csr_matrix:
        per_message = [self._sentence_blocks(m) for m in messages]
        columns = []
        weights = self._config["block_weights"] or {}
        for origin, sparse, width in self.blocks:
            rows = []
            for blocks in per_message:
                value = blocks.get((origin, sparse))
                if value is None:
                    rows.append(scipy.sparse.csr_matrix((1, width)))
                else:
                    rows.append(scipy.sparse.csr_matrix(value))
            block = scale_block(scipy.sparse.vstack(rows), sparse)
            columns.append(block * float(weights.get(origin, 1.0)))
        return scipy.sparse.hstack(columns).tocsr()

    # --- training ------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the logistic regression on the intent examples."""
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("LinearIntentClassifier: no intent examples; not trained.")
            return self._resource
        found: dict[tuple[str, bool], int] = {}
        for message in examples:
            for key, value in self._sentence_blocks(message).items():
                found.setdefault(key, value.shape[-1])
        self.blocks = [(origin, sparse, width) for (origin, sparse), width in sorted(found.items())]
        X = self._matrix(examples)
        y = [e.get(INTENT) for e in examples]
        clf = LogisticRegression(
            C=self._config["C"],
            max_iter=self._config["max_iter"],
            class_weight=self._config["class_weight"],
            solver="lbfgs",
        )
        clf.fit(X, y)
        self.classes = [str(c) for c in clf.classes_]
        self.weights = clf.coef_.astype(np.float32)
        self.bias = clf.intercept_.astype(np.float32)
        if len(self.classes) == 2:  # sklearn keeps one row for two classes
            self.weights = np.vstack([-self.weights, self.weights])
            self.bias = np.concatenate([-self.bias, self.bias])
        self._class_weights = self._class_weights_per_block()
        self.persist()
        return self._resource

    # --- prediction ----------------------------------------------------------------------

    def predict_proba(self, messages: list[Message]) -> np.ndarray:
        """Class probabilities, one row per message, columns in ``self.classes`` order."""
        scores = np.stack([self._scores(m) for m in messages])
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        return probs / probs.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets ``intent`` and ``intent_ranking`` on each message."""
        if self.weights is None:
            return messages
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return messages
        probs = self.predict_proba(todo)
        for message, row in zip(todo, probs, strict=True):
            order = np.argsort(-row)
            ranking = [{"name": self.classes[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            length = self._config["ranking_length"]
            message.set("intent_ranking", ranking[:length] if length else ranking, add_to_output=True)
        return messages

    # --- storage -------------------------------------------------------------------------

    def persist(self) -> None:
        """Stores the weights as numpy arrays and the classes and blocks as JSON."""
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / "linear.npz", weights=self.weights, bias=self.bias)
            (directory / "linear.json").write_text(
                json.dumps({"classes": self.classes, "blocks": self.blocks}, ensure_ascii=False),
                encoding="utf-8",
            )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        """Loads the trained component (an untrained one if nothing was stored)."""
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / "linear.npz", allow_pickle=False)
                meta = json.loads((directory / "linear.json").read_text(encoding="utf-8"))
                return cls(
                    config, model_storage, resource,
                    weights=arrays["weights"], bias=arrays["bias"], classes=meta["classes"],
                    blocks=[tuple(b) for b in meta["blocks"]],
                )
        except (ValueError, FileNotFoundError):
            logger.debug("LinearIntentClassifier: nothing stored for %s; untrained.", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
