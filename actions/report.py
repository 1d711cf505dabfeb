"""Actions that draft, review, submit or discard a report."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    KeepsExtractedSlots,
    category_buttons,
    clip,
    district_buttons,
    district_list,
    entity,
    guess_language,
    language_of,
    latest_intent,
    latest_text,
    reset_draft,
)
from satark.offices import load_offices
from satark.reports import ReportDraft, StorageUnavailable, submit_report
from satark.taxonomy import category_from_intent, get_category
from satark.text import match_key

log = logging.getLogger(__name__)

GUESS_MIN_CONFIDENCE = 0.25
# Matched on `match_key` text (words separated by single spaces); `\b` fails on Devanagari vowel signs.
URGENT = re.compile(
    r"(?:^| )(abhi|abi|abhie|right now|now|happening|turant|jaldi|emergency|अभी|तुरंत|इसी वक्त|इस समय)(?= |$)"
)
SKIP_WORDS = frozenset(map(match_key, (
    "skip", "no", "none", "nothing", "nahi", "nahin", "nhi", "na", "kuch nahi", "koi nahi", "chhodo",
    "नहीं", "नही", "कुछ नहीं", "कोई नहीं", "छोड़ें", "छोड़ो", "skip karo", "no evidence", "सबूत नहीं है",
)))
MEDIA_ATTACHED = "media"
FIELDS = ("category", "district", "place", "incident_time", "details", "evidence")
# Words people use for each field when they type "change ..." instead of tapping a button.
FIELD_WORDS = {
    "category": ("category", "shreni", "type", "crime", "श्रेणी", "अपराध", "prakar", "प्रकार"),
    "district": ("district", "zila", "jila", "jilla", "ज़िला", "जिला", "जनपद", "janpad"),
    "place": ("place", "location", "jagah", "jagha", "sthan", "address", "जगह", "स्थान", "पता", "thana", "थाना"),
    "incident_time": ("time", "when", "date", "samay", "waqt", "kab", "समय", "कब", "तारीख", "din"),
    "details": ("details", "detail", "vivran", "description", "jankari", "विवरण", "जानकारी", "बात"),
    "evidence": ("evidence", "proof", "photo", "video", "saboot", "sabut", "सबूत", "फोटो", "वीडियो"),
}


def field_to_change(tracker: Tracker) -> str | None:
    """The field named by the button's entity, or by a word in what the citizen typed."""
    field = entity(tracker, "field")
    if field in FIELDS:
        return field
    words = set(match_key(latest_text(tracker)).split())
    return next((name for name, names in FIELD_WORDS.items() if words & {match_key(n) for n in names}), None)


def guess_category(tracker: Tracker) -> str | None:
    """The crime category NLU saw in the latest message, if it is confident enough."""
    message = tracker.latest_message
    top = category_from_intent((message.get("intent") or {}).get("name"))
    if top:
        return top.key
    for ranked in message.get("intent_ranking") or []:
        category = category_from_intent(ranked.get("name"))
        if category and ranked.get("confidence", 0) >= GUESS_MIN_CONFIDENCE:
            return category.key
    return None


def new_draft_id() -> str:
    return uuid.uuid4().hex


def evidence_events(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[EventType]:
    """Add an evidence item the connector stored to the draft."""
    evidence_id = entity(tracker, "evidence_id")
    if not evidence_id:
        return []
    ids = list(tracker.get_slot("evidence_ids") or [])
    if evidence_id not in ids:
        ids.append(evidence_id)
    dispatcher.utter_message(response="utter_evidence_received", count=len(ids))
    return [SlotSet("evidence_ids", ids)]


class ValidateReportForm(KeepsExtractedSlots):
    def name(self) -> str:
        return "validate_report_form"

    async def get_extraction_events(self, dispatcher, tracker, domain) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        if latest_intent(tracker) == "share_evidence":
            events += evidence_events(tracker, dispatcher)
            if tracker.get_slot("requested_slot") == "evidence":
                events.append(SlotSet("evidence", MEDIA_ATTACHED))
        return events

    async def extract_language(self, dispatcher, tracker, domain) -> dict[str, Any]:
        """A citizen who writes instead of tapping a language button is answered in their script."""
        if tracker.get_slot("requested_slot") != "language" or tracker.get_slot("language"):
            return {}
        intent = latest_intent(tracker)
        if intent in {"language_hindi", "language_english", "cancel"}:
            return {}
        slots: dict[str, Any] = {"language": guess_language(latest_text(tracker))}
        if category_from_intent(intent) and not tracker.get_slot("description"):
            slots.update(description=clip(latest_text(tracker)), category_guess=guess_category(tracker),
                         draft_id=tracker.get_slot("draft_id") or new_draft_id())
        return slots

    async def extract_evidence(self, dispatcher, tracker, domain) -> dict[str, Any]:
        """"Skip" in any wording ends the evidence question, even when NLU read it as "cancel"."""
        if tracker.get_slot("requested_slot") == "evidence" and match_key(latest_text(tracker)) in SKIP_WORDS:
            return {"evidence": "none"}
        return {}

    async def extract_category(self, dispatcher, tracker, domain) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "category":
            return {}
        intent = latest_intent(tracker)
        guess = tracker.get_slot("category_guess")
        if intent == "affirm" and guess:
            return {"category": guess}
        if intent == "choose_category" and get_category(entity(tracker, "category")):
            return {"category": entity(tracker, "category")}
        if intent == "deny":
            return {"category_guess": None}
        if category_from_intent(intent):
            return {"category_guess": category_from_intent(intent).key}
        if intent in {"cancel", "help", "language_hindi", "language_english"}:
            return {}
        # Anything else: keep the question open (and the form in control).
        return {"category_guess": guess}

    def validate_description(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "")
        if len(text) < 3:
            return {"description": None}
        return {
            "description": text,
            "category_guess": guess_category(tracker),
            "draft_id": tracker.get_slot("draft_id") or new_draft_id(),
        }

    def validate_category(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return {"category": value if get_category(value) else None}

    def validate_district(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        district = load_offices().match_district(value)
        if district is None:
            language = language_of(tracker)
            dispatcher.utter_message(response="utter_district_unknown", given=clip(value or "", 60),
                                     districts=district_list(language))
            return {"district": None}
        return {"district": district.code}

    def validate_place(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "", 500)
        return {"place": text if len(text) >= 2 else None}

    def validate_incident_time(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "", 500)
        if not text:
            return {"incident_time": None}
        urgent = bool(URGENT.search(match_key(text)))
        if urgent:
            dispatcher.utter_message(response="utter_urgent")
        return {"incident_time": text, "urgent": urgent}

    def validate_details(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "")
        return {"details": text or None}

    def validate_evidence(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "", 1000)
        if match_key(text) in SKIP_WORDS:
            return {"evidence": "none"}
        return {"evidence": text or None}


class ActionAskCategory(Action):
    """Confirm the category NLU understood, or offer the menu when there is no guess."""

    def name(self) -> str:
        return "action_ask_category"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        language = language_of(tracker)
        guess = get_category(tracker.get_slot("category_guess"))
        if guess:
            dispatcher.utter_message(response="utter_category_guess", category_name=guess.label(language))
        else:
            dispatcher.utter_message(response="utter_choose_category", buttons=category_buttons(language))
        return []


class ActionAskDistrict(Action):
    def name(self) -> str:
        return "action_ask_district"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_ask_district", buttons=district_buttons(language_of(tracker)))
        return []


class ActionShowCategoryMenu(Action):
    def name(self) -> str:
        return "action_show_category_menu"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_choose_category", buttons=category_buttons(language_of(tracker)))
        return []


class ActionCaptureComplaint(Action):
    """Start a draft from a complaint (or a category tapped in the menu) typed outside the form;
    at the summary, add what was written to the draft's details instead."""

    def name(self) -> str:
        return "action_capture_complaint"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        if tracker.get_slot("stage") == "summary":
            # More words at the summary (a photo's caption, a detail remembered late) join the draft.
            added = clip(" ".join(filter(None, (tracker.get_slot("details"), latest_text(tracker)))))
            dispatcher.utter_message(response="utter_added_to_draft")
            return [SlotSet("details", added)]
        events = reset_draft() + [SlotSet("draft_id", new_draft_id())]
        chosen = get_category(entity(tracker, "category"))
        if latest_intent(tracker) == "choose_category" and chosen:
            return events + [SlotSet("category", chosen.key)]
        return events + [
            SlotSet("description", clip(latest_text(tracker))),
            SlotSet("category_guess", guess_category(tracker)),
        ]


class ActionAttachEvidence(Action):
    def name(self) -> str:
        return "action_attach_evidence"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        return evidence_events(tracker, dispatcher)


def summary_values(tracker: Tracker) -> dict[str, str]:
    language = language_of(tracker)
    hindi = language == "hi"
    category = get_category(tracker.get_slot("category"))
    district = load_offices().district(tracker.get_slot("district"))
    files = len(tracker.get_slot("evidence_ids") or [])
    note = tracker.get_slot("evidence")
    parts = []
    if files:
        parts.append(f"{files} फ़ाइल" if hindi else f"{files} file(s)")
    if note and note not in {"none", MEDIA_ATTACHED}:
        parts.append(note)
    return {
        "category": category.label(language) if category else "-",
        "district": district.label(language) if district else "-",
        "place": tracker.get_slot("place") or "-",
        "incident_time": tracker.get_slot("incident_time") or "-",
        "urgent": (" (ज़रूरी 🚨)" if hindi else " (urgent 🚨)") if tracker.get_slot("urgent") else "",
        "details": tracker.get_slot("details") or "-",
        "evidence": "; ".join(parts) or ("कोई नहीं" if hindi else "none"),
    }


class ActionShowSummary(Action):
    def name(self) -> str:
        return "action_show_summary"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_summary", **summary_values(tracker))
        return [SlotSet("stage", "summary")]


class ActionChangeField(Action):
    """Clear the field the citizen wants to change; the form then asks for it again."""

    def name(self) -> str:
        return "action_change_field"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        field = field_to_change(tracker)
        events: list[EventType] = [SlotSet("stage", "idle")]
        if field == "category":
            events += [SlotSet("category", None), SlotSet("category_guess", None)]
        elif field:
            events.append(SlotSet(field, None))
            if field == "incident_time":
                events.append(SlotSet("urgent", None))
            if field == "evidence":
                events.append(SlotSet("evidence_ids", None))
        return events


def draft_from(tracker: Tracker) -> ReportDraft:
    evidence = tracker.get_slot("evidence")
    return ReportDraft(
        draft_key=tracker.get_slot("draft_id"),
        category=tracker.get_slot("category"),
        district_code=tracker.get_slot("district"),
        description=tracker.get_slot("description") or "",
        place=tracker.get_slot("place") or "",
        incident_time=tracker.get_slot("incident_time") or "",
        details=tracker.get_slot("details") or "",
        language=language_of(tracker),
        urgent=bool(tracker.get_slot("urgent")),
        evidence_note=None if evidence in (None, "none", MEDIA_ATTACHED) else evidence,
        evidence_ids=tuple(tracker.get_slot("evidence_ids") or ()),
    )


class ActionSubmitReport(Action):
    """Store the confirmed report exactly once and give the citizen the receipt."""

    def name(self) -> str:
        return "action_submit_report"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        draft = draft_from(tracker)
        if not (draft.draft_key and draft.category and draft.district_code):
            dispatcher.utter_message(response="utter_help")
            return reset_draft()
        try:
            receipt = await asyncio.to_thread(submit_report, draft)
        except StorageUnavailable:
            log.error("report could not be stored; the draft stays in the conversation")
            dispatcher.utter_message(response="utter_storage_failed")
            return []
        dispatcher.utter_message(response="utter_report_submitted", public_number=receipt.public_number,
                                 receipt_code=receipt.receipt_code)
        return reset_draft()


class ActionCancelReport(Action):
    def name(self) -> str:
        return "action_cancel_report"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_report_cancelled")
        return reset_draft() + [SlotSet("receipt_code", None), SlotSet("followup_text", None)]

