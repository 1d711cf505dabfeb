"""Quick feature search outside Rasa (how the candidates in bench/candidates/ were found).

    python -m bench.feature_search

Tokenises with the project's tokenizer, builds the same feature blocks as the Rasa components
(word counts, char_wb 2-5 n-grams, shared-form counts, e5 embeddings of whole messages with and
without romanized Hindi transliterated, or capped at 16 words), scales them as
LinearIntentClassifier does, and cross-validates a logistic regression on the same stratified
folds as bench.nlu. It skips Rasa's training machinery, so it takes minutes instead of an hour;
the chosen candidates were then measured through Rasa (`python -m bench.nlu --compare`). e5
embeddings are cached in var/bench/.
"""

from __future__ import annotations

import re
import time

import numpy as np
import scipy.sparse as sp

from bench.nlu import ROOT, SEED, TRAIN_DATA, examples, load_training_data
from satark.language import script_of

CACHE = ROOT / "var" / "bench"


def main() -> None:

    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    from nlu_components.e5_featurizer import E5SentenceFeaturizer
    from nlu_components.linear_classifier import scale_block
    from nlu_components.tokenizer import split_words

    data = [pair for f in sorted(TRAIN_DATA.glob("*.yml")) for pair in examples(load_training_data(f))]
    texts = [t for t, _ in data]
    y = np.array([g for _, g in data])
    tokens = [split_words(t) for t in texts]

    def docs(attr: str) -> list[str]:
        return [" ".join(re.sub(r"\b[0-9]+\b", "__NUMBER__", getattr(t, attr)).lower() for t in ts)
                for ts in tokens]

    words, keys = docs("text"), docs("lemma")
    CACHE.mkdir(parents=True, exist_ok=True)
    embeddings = {}
    variants = (  # name: (max_words, skip_function_words, transliterate_romanized)
        ("e5_full", 64, False, False),
        ("e5_tr_full", 64, False, True),
        ("e5_tr_16", 16, True, True),
    )
    for name, max_words, skip, transliterate in variants:
        featurizer = E5SentenceFeaturizer({**E5SentenceFeaturizer.get_default_config(), "max_words": max_words,
                                           "skip_function_words": skip,
                                           "transliterate_romanized": transliterate}, name)
        path = CACHE / f"{name}_{len(texts)}.npy"
        if not path.exists():
            np.save(path, featurizer.embed(texts))
        embeddings[name] = np.load(path)

    blocks_def = {
        "words": (words, {}),
        "chars": (words, {"analyzer": "char_wb", "ngram_range": (2, 5)}),
        "shared_form": (keys, {}),
    }

    def run(name: str, blocks: list[str], e5: str | None = None, e5_weight: float = 1.0, C: float = 20) -> None:
        folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
        pred = np.empty(len(y), dtype=object)
        start = time.time()
        for train, test in folds.split(texts, y):
            xs_train, xs_test = [], []
            for block in blocks:
                documents, options = blocks_def[block]
                vectorizer = CountVectorizer(token_pattern=r"(?u)[^\s]+", **options)
                xs_train.append(scale_block(vectorizer.fit_transform([documents[i] for i in train]), True))
                xs_test.append(scale_block(vectorizer.transform([documents[i] for i in test]), True))
            if e5:
                xs_train.append(scale_block(embeddings[e5][train], False) * e5_weight)
                xs_test.append(scale_block(embeddings[e5][test], False) * e5_weight)
            model = LogisticRegression(C=C, max_iter=1000, class_weight="balanced")
            model.fit(sp.hstack(xs_train).tocsr(), y[train])
            pred[test] = model.predict(sp.hstack(xs_test).tocsr())
        per_script = {s: round(float(np.mean([pred[i] == y[i] for i in range(len(y)) if script_of(texts[i]) == s])), 3)
                      for s in ("devanagari", "english", "romanized")}
        print(f"| {name} | {f1_score(y, pred, average='macro'):.4f} | {per_script} | {time.time() - start:.0f} s |",
              flush=True)

    print(f"{len(texts)} examples\n\n| features | CV macro-F1 | accuracy per script | time |\n|---|---|---|---|")
    run("words", ["words"])
    run("chars", ["chars"])
    run("words + chars", ["words", "chars"])
    run("words + chars + shared_form", ["words", "chars", "shared_form"])
    run("e5 (full message)", [], e5="e5_full")
    run("words + chars + shared_form + e5 full ×3", ["words", "chars", "shared_form"], "e5_full", 3.0)
    run("... with romanized Hindi transliterated for e5", ["words", "chars", "shared_form"], "e5_tr_full", 3.0)
    run("... e5 on at most 16 content words (config.yml)", ["words", "chars", "shared_form"], "e5_tr_16", 3.0)


if __name__ == "__main__":
    main()
