"""Helpers shared by the action modules: language, buttons, the draft's slots."""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from satark.offices import load_offices
from satark.taxonomy import load_categories

DRAFT_SLOTS = (
    "description", "category_guess", "category", "district", "place", "incident_time",
    "urgent", "details", "evidence", "evidence_ids", "draft_id",
)
DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# Common Hindi words typed in Latin letters: a romanized message is a Hindi speaker's.
ROMAN_HINDI = re.compile(
    r"\b(hai|h|hain|he|me|mein|ka|ki|ke|ko|nahi|nhi|raha|rahi|rhe|kar|karo|bhai|gaon|gav|"
    r"wala|wale|log|yaha|yahan|waha|aur|se|par|bahut|kuch|mera|meri|hamare|hum)\b",
    re.IGNORECASE,
)
MAX_TEXT = 4000


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "en"


def guess_language(text: str) -> str:
    """The language a citizen most likely prefers, from how they wrote."""
    if DEVANAGARI.search(text) or ROMAN_HINDI.search(text):
        return "hi"
    return "en"


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
