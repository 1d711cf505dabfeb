"""The crime categories, with names and descriptions in Hindi and English, from one data file."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from satark.settings import get_settings

LANGUAGES = ("hi", "en")
INTENT_PREFIX = "report_"
GUESS_MIN_CONFIDENCE = 0.25  # a category ranked below the top intent is still offered as a guess from here


@dataclass(frozen=True)
class Category:
    key: str
    name: dict[str, str]
    description: dict[str, str]

    @property
    def intent(self) -> str:
        return INTENT_PREFIX + self.key

    def label(self, language: str | None) -> str:
        return label(self.name, language)


def label(names: dict[str, str], language: str | None) -> str:
    """The text for `language` from a {hi, en} pair, English when the language is not known yet.

    The one label helper: categories, districts, offices and police stations use it.
    """
    return names.get(language or "en", names["en"])


def bilingual(value: object, where: str) -> dict[str, str]:
    """A {hi, en} text pair from a data file; anything else is a mistake in the file."""
    if not (isinstance(value, dict) and set(value) == set(LANGUAGES) and all(
            isinstance(text, str) and text.strip() for text in value.values())):
        raise ValueError(f"{where}: expected Hindi and English texts {{hi: ..., en: ...}}, got {value!r}")
    return value


@lru_cache(maxsize=4)
def load_categories(path: Path | None = None) -> tuple[Category, ...]:
    data = yaml.safe_load((path or get_settings().categories_file).read_text(encoding="utf-8"))
    return tuple(
        Category(key=item["key"], name=bilingual(item["name"], item["key"]),
                 description=bilingual(item["description"], item["key"]))
        for item in data["categories"]
    )


def category_keys() -> tuple[str, ...]:
    return tuple(category.key for category in load_categories())


def get_category(key: str | None) -> Category | None:
    return next((c for c in load_categories() if c.key == key), None)


def category_from_intent(intent: str | None) -> Category | None:
    if not intent or not intent.startswith(INTENT_PREFIX):
        return None
    return get_category(intent[len(INTENT_PREFIX):])


def category_guess(reading: dict[str, Any]) -> str | None:
    """The crime category an NLU reading (`intent`, `intent_ranking`) sees, if it is confident enough."""
    top = category_from_intent((reading.get("intent") or {}).get("name"))
    if top:
        return top.key
    for ranked in reading.get("intent_ranking") or []:
        category = category_from_intent(ranked.get("name"))
        if category and ranked.get("confidence", 0) >= GUESS_MIN_CONFIDENCE:
            return category.key
    return None


STATUS_LABELS = {
    "new": {"en": "Received, waiting to be assigned", "hi": "प्राप्त, सौंपे जाने की प्रतीक्षा में"},
    "acknowledged": {"en": "Seen by the police", "hi": "पुलिस ने देख ली है"},
    "assigned": {"en": "Assigned to an officer", "hi": "अधिकारी को सौंपी गई"},
    "under_investigation": {"en": "Under investigation", "hi": "जाँच जारी है"},
    "action_taken": {"en": "Action taken", "hi": "कार्रवाई की गई"},
    "closed": {"en": "Closed", "hi": "बंद"},
}
OUTCOME_LABELS = {
    "action_taken": {"en": "Action taken", "hi": "कार्रवाई की गई"},
    "no_evidence": {"en": "No evidence found", "hi": "कोई सबूत नहीं मिला"},
    "false_report": {"en": "False report", "hi": "झूठी सूचना"},
    "duplicate": {"en": "Duplicate of another report", "hi": "किसी अन्य सूचना का दोहराव"},
}


def _label(labels: dict[str, dict[str, str]], key: str, language: str | None) -> str:
    texts = labels.get(key, {"en": key, "hi": key})
    return texts.get(language or "en", texts["en"])


def status_label(status: str, language: str | None) -> str:
    return _label(STATUS_LABELS, status, language)


def outcome_label(outcome: str, language: str | None) -> str:
    return _label(OUTCOME_LABELS, outcome, language)
