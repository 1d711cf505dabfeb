"""The project's regex entities applied exactly as Rasa's RegexEntityExtractor applies them, so
action tests get the entities a real message would carry without loading a trained model."""

from __future__ import annotations

import re
from functools import lru_cache

from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from satark.settings import PROJECT_ROOT


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, str], ...]:
    data = RasaYAMLReader().read(PROJECT_ROOT / "data" / "nlu" / "entities.yml")
    return tuple((item["name"], item["pattern"]) for item in data.regex_features)


def regex_entities(text: str) -> list[dict]:
    """Entities of `text` as the NLU pipeline's RegexEntityExtractor (case-insensitive) finds them."""
    return [{"entity": name, "value": match.group(), "start": match.start(), "end": match.end()}
            for name, pattern in _patterns() for match in re.finditer(pattern, text, flags=re.IGNORECASE)]
