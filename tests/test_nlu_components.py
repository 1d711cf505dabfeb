"""Unit tests for the custom NLU components (nlu_components/). Fast: no model training."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.scripts import romanized_to_devanagari
from nlu_components.shared_form import phonetic_key
from nlu_components.tokenizer import DevanagariTokenizer, split_words
from satark.language import script_of
from satark.text import normalize_hindi


def words(text: str) -> list[str]:
    return [t.text for t in split_words(text)]


# --- tokenizer ----------------------------------------------------------------------------


def test_devanagari_words_stay_whole():
    # Python's re splits these into "हत", "य", "शर", "ब": the bug this tokenizer avoids.
    assert re.findall(r"(?u)\b\w+\b", "हत्या शराब") == ["हत", "य", "शर", "ब"]
    assert words("हत्या शराब") == ["हत्या", "शराब"]


def test_punctuation_danda_and_emoji():
    assert words("गांव में कच्ची शराब बिकती है। जल्दी आइए!! 🙏") == [
        "गांव", "में", "कच्ची", "शराब", "बिकती", "है", "जल्दी", "आइए", "🙏"]
    assert words("truck full of cows 🐄🐄, going to bihar") == [
        "truck", "full", "of", "cows", "🐄", "🐄", "going", "to", "bihar"]


def test_receipt_code_is_one_token_with_offsets_into_original_text():
    text = "status\u200b of K7QM-4XPA-9TRC please"
    tokens = split_words(text)
    code = next(t for t in tokens if "K7QM" in t.text)
    assert code.text == "K7QM-4XPA-9TRC"
    assert text[code.start:code.end] == "K7QM-4XPA-9TRC"


def test_offsets_point_into_unnormalised_text():
    text = "ज़मीन पर क़ब्ज़ा"  # precomposed nukta letters change length when normalised
    for token in split_words(text):
        assert normalize_hindi(text[token.start:token.end]) == token.text


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("\u095b\u092e\u0940\u0928", "जमीन"),  # precomposed ज़ -> ज
        ("\u091c\u093c\u092e\u0940\u0928", "जमीन"),  # ज + nukta -> ज
        ("गाँव", "गांव"),  # chandrabindu -> anusvara
        ("श\u200dरा\u200cब", "शराब"),  # zero-width joiner / non-joiner
        ("शराब\u00ad", "शराब"),  # soft hyphen
        ("१२३", "123"),  # Devanagari digits
    ],
)
def test_normalisation(raw, normal):
    assert normalize_hindi(raw) == normal


def test_message_with_only_symbols_keeps_one_token():
    assert words(":)") == [":)"]
    assert words("   ") == []


def test_tokenizer_component_sets_tokens_and_lemmas():
    tokenizer = DevanagariTokenizer(DevanagariTokenizer.get_default_config())
    message = Message(data={TEXT: "गाँव में शराब"})
    tokenizer.process([message])
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == ["गांव", "में", "शराब"]
    assert tokens[2].lemma == phonetic_key("sharab")


# --- shared form --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variants",
    [
        ["शराब", "sharab", "sharaab", "sarab"],
        ["कच्ची", "kachchi", "kachi", "kacchi"],
        ["गांजा", "गाँजा", "ganja", "gaanja"],
        ["रंगदारी", "rangdari", "rangdaari"],
        ["तस्करी", "taskari"],
        ["मारपीट", "maarpeet", "marpit"],
        ["लड़की", "ladki"],
        ["अवैध", "avaidh", "awaidh"],
        ["पुलिस", "police"],
    ],
)
def test_phonetic_key_joins_scripts_and_spellings(variants):
    keys = {phonetic_key(v) for v in variants}
    assert len(keys) == 1, keys


def test_phonetic_key_keeps_different_words_apart():
    keys = [phonetic_key(w) for w in ["शराब", "गांजा", "जुआ", "तमंचा", "रिश्वत", "खनन"]]
    assert len(set(keys)) == len(keys)


def test_phonetic_key_passes_digits_and_emoji():
    assert phonetic_key("112") == "112"
    assert phonetic_key("🐄") == "🐄"


# --- count vectors without the Devanagari bug ---------------------------------------------


def test_count_vectors_keep_devanagari_words(tmp_path):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from nlu_components.count_vectors import DevanagariCountVectorsFeaturizer

    tokenizer = DevanagariTokenizer(DevanagariTokenizer.get_default_config())
    messages = [Message(data={TEXT: t, "intent": "x"}) for t in ["हत्या शराब", "शराब बिकती है"]]
    tokenizer.process(messages)
    config = {**DevanagariCountVectorsFeaturizer.get_default_config(), "use_lemma": False}
    featurizer = DevanagariCountVectorsFeaturizer.create(
        config, LocalModelStorage(tmp_path), Resource("cvf"), ExecutionContext(None, "cvf"))
    featurizer.train(TrainingData(messages))
    vocabulary = featurizer.vectorizers[TEXT].vocabulary_
    assert set(vocabulary) == {"हत्या", "शराब", "बिकती", "है"}

    new = Message(data={TEXT: "शराब हत्या शराब"})
    tokenizer.process([new])
    featurizer.process([new])
    sequence, sentence = new.get_sparse_features(TEXT)
    assert sequence.features.shape == (3, len(vocabulary))
    assert sentence.features.toarray()[0, vocabulary["शराब"]] == 2


@pytest.mark.parametrize(
    "analyzer, max_ngram", [("word", 1), ("word", 2), ("char_wb", 4), ("char", 3)]
)
def test_count_vectors_sentence_feature_counts_the_joined_tokens(tmp_path, analyzer, max_ngram):
    """Summing the token rows (word unigrams, char_wb) must give what counting the sentence gives."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from nlu_components.count_vectors import DevanagariCountVectorsFeaturizer

    texts = ["कच्ची शराब शराब बिकती है", "gaon me sharab bikti hai 🙏", "Illegal liquor, illegal!", ":)"]
    messages = [Message(data={TEXT: t, "intent": "x"}) for t in texts]
    tokenizer = DevanagariTokenizer(DevanagariTokenizer.get_default_config())
    tokenizer.process(messages)
    config = {**DevanagariCountVectorsFeaturizer.get_default_config(), "analyzer": analyzer,
              "min_ngram": 1, "max_ngram": max_ngram}
    featurizer = DevanagariCountVectorsFeaturizer.create(
        config, LocalModelStorage(tmp_path), Resource("cvf"), ExecutionContext(None, "cvf"))
    featurizer.train(TrainingData(messages))
    featurizer.process(messages)
    for message in messages:
        tokens = featurizer._get_processed_message_tokens_by_attribute(message, TEXT)
        expected = featurizer.vectorizers[TEXT].transform([" ".join(tokens)]).toarray()
        _, sentence = message.get_sparse_features(TEXT)
        assert np.array_equal(sentence.features.toarray(), expected)
        assert sentence.features.dtype == expected.dtype


# --- linear classifier --------------------------------------------------------------------


def test_scale_block_unit_rows_and_log_counts():
    from nlu_components.linear_classifier import scale_block

    block = scale_block(np.array([[3.0, 0.0], [0.0, 0.0]]), sparse=True).toarray()
    assert block[0, 0] == pytest.approx(1.0)
    assert not block[1].any()


def test_linear_classifier_trains_persists_and_loads(tmp_path):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from nlu_components.count_vectors import DevanagariCountVectorsFeaturizer
    from nlu_components.linear_classifier import LinearIntentClassifier

    data = {
        "report_illegal_liquor": ["कच्ची शराब बिकती है", "gaon me sharab bikti hai", "illegal liquor sold"],
        "report_gambling": ["जुआ खेला जाता है", "yaha jua chalta hai", "gambling den here"],
    }
    messages = [Message(data={TEXT: t, "intent": i}) for i, ts in data.items() for t in ts]
    storage = LocalModelStorage(tmp_path)
    tokenizer = DevanagariTokenizer(DevanagariTokenizer.get_default_config())
    featurizer = DevanagariCountVectorsFeaturizer.create(
        {**DevanagariCountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "min_ngram": 2,
         "max_ngram": 4}, storage, Resource("cvf"), ExecutionContext(None, "cvf"))
    tokenizer.process(messages)
    featurizer.train(TrainingData(messages))
    featurizer.process(messages)
    resource = Resource("clf")
    config = LinearIntentClassifier.get_default_config()
    classifier = LinearIntentClassifier.create(config, storage, resource, ExecutionContext(None, "clf"))
    classifier.train(TrainingData(messages))

    loaded = LinearIntentClassifier.load(config, storage, resource, ExecutionContext(None, "clf"))
    new = [Message(data={TEXT: "sharab bik rahi hai"}), Message(data={TEXT: "jua khel rahe hain"})]
    tokenizer.process(new)
    featurizer.process(new)
    loaded.process(new)
    assert [m.get("intent")["name"] for m in new] == ["report_illegal_liquor", "report_gambling"]
    ranking = new[0].get("intent_ranking")
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-5)


# --- sentence embeddings ------------------------------------------------------------------


def test_e5_featurizer_adds_one_unit_sentence_vector():
    from rasa.engine.graph import ExecutionContext

    from nlu_components.e5_featurizer import E5SentenceFeaturizer

    featurizer = E5SentenceFeaturizer.create(
        E5SentenceFeaturizer.get_default_config(), None, None, ExecutionContext(None, "e5"))
    messages = [Message(data={TEXT: "गांव में कच्ची शराब बिकती है"}),
                Message(data={TEXT: "illegal liquor is sold in the village"}),
                Message(data={TEXT: "what is the cricket score"})]
    featurizer.process(messages)
    vectors = []
    for message in messages:
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence is None
        assert sentence.features.shape == (1, 384)
        vectors.append(sentence.features[0])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-3)
    # the same complaint in two languages is closer than an unrelated question
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_e5_input_keeps_content_words_within_budget():
    from nlu_components.e5_featurizer import E5SentenceFeaturizer

    featurizer = E5SentenceFeaturizer({**E5SentenceFeaturizer.get_default_config(), "max_words": 4}, "e5")
    text = "सेवा में श्रीमान महोदय निवेदन है कि गांव में कच्ची शराब की भट्ठी चल रही है"
    assert featurizer._prepare(text) == "गांव कच्ची शराब भट्ठी"
    assert featurizer._prepare("नहीं यह सही है") == "नहीं यह सही है"  # within the budget: kept whole
    assert featurizer._prepare("यह है कि वह है जो") == "यह है कि वह"  # only function words: cut


def test_e5_reads_romanized_hindi_as_hindi():
    from nlu_components.e5_featurizer import E5SentenceFeaturizer

    config = E5SentenceFeaturizer.get_default_config()
    plain = E5SentenceFeaturizer({**config, "transliterate_romanized": False}, "plain")
    translit = E5SentenceFeaturizer({**config, "transliterate_romanized": True}, "translit")
    devanagari = plain.embed(["गांव में कच्ची शराब की भट्ठी चलती है"])[0]
    romanized = "gaon me kachi sharab ki bhatti chalti hai"
    assert translit.embed([romanized])[0] @ devanagari > plain.embed([romanized])[0] @ devanagari + 0.05


# --- scripts and transliteration ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("गांव में शराब बिकती है", "devanagari"),
        ("gaon me sharab bikti hai", "romanized"),
        ("thane ka daroga paise mangta hai", "romanized"),
        ("a truck full of cows passes every night", "english"),
        ("haan ji", "romanized"),
        ("yes", "english"),
    ],
)
def test_script_of(text, script):
    assert script_of(text) == script


def test_only_romanized_hindi_is_transliterated():
    assert "शराब" in romanized_to_devanagari("gaon me kachi sharab bikti hai")
    english = "a truck full of cows passes every night"
    assert romanized_to_devanagari(english) == english
    assert romanized_to_devanagari("गांव में शराब") == "गांव में शराब"


def test_transliteration_never_writes_citizens_words_to_disk():
    romanized_to_devanagari("qwzx ka plorbit hai")
    import dhvani.cache

    assert dhvani.cache._CACHE_PATH == os.devnull
