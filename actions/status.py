"""Actions for a reporter who comes back with a receipt code: status and follow-up information."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import KeepsExtractedSlots, clip, entity, language_of, latest_intent, latest_text
from actions.report import evidence_events
from satark import reports
from satark.receipts import find_code, format_code, normalize_code
from satark.taxonomy import get_category, status_label


async def checked_code(value: str | None, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """Accept a receipt code only if it opens a report; the core counts wrong codes and pauses guessing."""
    code = normalize_code(value) or find_code(value)
    try:
        if await asyncio.to_thread(reports.code_exists, code or value, sender_id=tracker.sender_id):
            return {"receipt_code": format_code(code)}
    except reports.CodeLocked as locked:
        dispatcher.utter_message(response="utter_code_throttled", minutes=locked.minutes)
        return {"receipt_code": None}
    dispatcher.utter_message(response="utter_wrong_code")
    return {"receipt_code": None}


class ReceiptCodeValidation:
    """Receipt-code extraction and checks shared by the status and follow-up forms (a mixin, so the
    action server does not register it as an action of its own)."""

    async def extract_receipt_code(self, dispatcher, tracker, domain) -> dict[str, Any]:
        if tracker.get_slot("receipt_code"):
            return {}
        code = entity(tracker, "receipt_code") or find_code(latest_text(tracker))
        return {"receipt_code": code} if code else {}

    async def validate_receipt_code(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return await checked_code(value, dispatcher, tracker)


class ValidateStatusForm(ReceiptCodeValidation, KeepsExtractedSlots):
    def name(self) -> str:
        return "validate_status_form"


class ValidateFollowupForm(ReceiptCodeValidation, KeepsExtractedSlots):
    def name(self) -> str:
        return "validate_followup_form"

    async def get_extraction_events(self, dispatcher, tracker, domain) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        if latest_intent(tracker) == "share_evidence":
            events += evidence_events(tracker, dispatcher)
        return events

    def validate_followup_text(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "")
        return {"followup_text": text or None}


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        try:
            view = await asyncio.to_thread(reports.report_status, tracker.get_slot("receipt_code"),
                                           sender_id=tracker.sender_id)
        except reports.CodeLocked as locked:
            dispatcher.utter_message(response="utter_code_throttled", minutes=locked.minutes)
            return [SlotSet("receipt_code", None)]
        if view is None:
            dispatcher.utter_message(response="utter_wrong_code")
            return [SlotSet("receipt_code", None)]
        language = language_of(tracker)
        category = get_category(view.category)
        heading = "पुलिस का संदेश:" if language == "hi" else "Message from the police:"
        messages = "\n".join(f"{heading} {m}" for m in view.messages)
        dispatcher.utter_message(
            response="utter_status",
            public_number=view.public_number,
            category=category.label(language) if category else view.category,
            status=status_label(view.status, language),
            messages=messages,
        )
        return [SlotSet("receipt_code", None)]


class ActionSaveFollowup(Action):
    def name(self) -> str:
        return "action_save_followup"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        evidence_ids = tuple(tracker.get_slot("evidence_ids") or ())
        try:
            public_number = await asyncio.to_thread(
                reports.add_followup, tracker.get_slot("receipt_code"), tracker.get_slot("followup_text"),
                evidence_ids, sender_id=tracker.sender_id)
        except reports.CodeLocked as locked:
            dispatcher.utter_message(response="utter_code_throttled", minutes=locked.minutes)
        else:
            if public_number is None:
                dispatcher.utter_message(response="utter_wrong_code")
            else:
                dispatcher.utter_message(response="utter_followup_saved", public_number=public_number)
        return [SlotSet("receipt_code", None), SlotSet("followup_text", None), SlotSet("evidence_ids", None)]
