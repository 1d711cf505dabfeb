"""Helpers shared by the action modules: language, texts from the domain, buttons, the draft's slots."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from satark.offices import load_offices
from satark.taxonomy import load_categories
from satark.text import shorten

DRAFT_SLOTS = (
    "description", "category_guess", "category", "district", "place", "incident_time",
    "urgent", "details", "evidence", "evidence_ids", "draft_id", "vague_answers",
)
BOOKKEEPING_SLOTS = ("draft_id", "vague_answers")  # draft slots that hold nothing the citizen said
MAX_TEXT = 4000


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "en"


def response_text(domain: DomainDict, name: str, language: str | None, **values: Any) -> str:
    """The text of a domain response in `language` (the variation without a condition otherwise).

    For texts an action composes (summary parts) or utters before the language slot is set.
    """
    variations = domain.get("responses", {}).get(name) or []
    chosen = next((v for v in variations if any(
        c.get("name") == "language" and c.get("value") == language for c in v.get("condition") or [])), None)
    chosen = chosen or next((v for v in variations if not v.get("condition")), {"text": ""})
    return chosen["text"].format(**values) if values else chosen["text"]


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)


def entities(tracker: Tracker, name: str) -> list[str]:
    """Every value of an entity in the latest message, in order, without repeats."""
    values: list[str] = []
    for value in tracker.get_latest_entity_values(name):
        if value and value.strip() and value.strip() not in values:
            values.append(value.strip())
    return values


def clip(text: str, dispatcher: CollectingDispatcher | None = None, limit: int = MAX_TEXT) -> str:
    """What the citizen wrote, cut to `limit`; when it was cut, the citizen is told so."""
    clipped = shorten(text or "", limit)
    if dispatcher is not None and clipped != (text or "").strip():
        dispatcher.utter_message(response="utter_text_cut", limit=limit)
    return clipped


def category_buttons(language: str) -> list[dict[str, Any]]:
    return [
        {"title": c.label(language), "payload": f'/choose_category{{"category":"{c.key}"}}'}
        for c in load_categories()
    ]


def district_buttons(language: str) -> list[dict[str, Any]]:
    return [{"title": d.label(language), "payload": d.label(language)} for d in load_offices().districts]


def district_list(language: str) -> str:
    return ", ".join(d.label(language) for d in load_offices().districts)


def reset_draft() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in DRAFT_SLOTS] + [SlotSet("stage", "idle")]


class KeepsExtractedSlots(FormValidationAction):
    """rasa-sdk returns only the validated *required* slots and silently drops what `extract_*`
    methods set on other slots (the category guess, evidence ids, a draft started by a complaint).
    This keeps those, so a form turn that only changes them is not lost or rejected."""

    @abstractmethod
    def name(self) -> str:
        """Abstract, so the action server does not register this base class as an action."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        extraction_events = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extraction_events)
        validation_events = await self._extract_validation_events(dispatcher, tracker, domain)
        validated = {event["name"] for event in validation_events if event.get("event") == "slot"}
        kept = [event for event in extraction_events if event["name"] not in validated]
        return kept + validation_events
