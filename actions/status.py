"""Actions for a reporter who comes back with a receipt code: status and follow-up information."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import KeepsExtractedSlots, clip, entity, language_of, latest_intent, latest_text, response_text
from actions.report import SKIP_WORDS, evidence_events
from satark import reports
from satark.receipts import find_code, format_code, normalize_code
from satark.taxonomy import get_category, status_label
from satark.text import match_key

DONE_WORDS = SKIP_WORDS | frozenset(map(match_key, ("done", "bas", "ho gaya", "hogaya", "बस", "हो गया", "that's all")))
NO_TEXT = "none"


async def checked_code(value: str | None, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """Accept a receipt code only if it opens a report; the core counts wrong codes and pauses guessing.

    Text that is not shaped like a code gets a format hint and costs no try; a conversation that
    must wait is told so and leaves the code question (it can still make a new report).
    """
    code = normalize_code(value) or find_code(value)
    if not code:
        dispatcher.utter_message(response="utter_code_format_hint")
        return {"receipt_code": None}
    try:
        if await asyncio.to_thread(reports.code_exists, code or value, sender_id=tracker.sender_id):
            return {"receipt_code": format_code(code)}
    except reports.CodeLocked as locked:
        minutes = locked.minutes
    else:
        tries_left = await asyncio.to_thread(reports.wrong_code_tries_left, tracker.sender_id)
        if tries_left > 1:
            dispatcher.utter_message(response="utter_wrong_code", tries_left=tries_left)
            return {"receipt_code": None}
        if tries_left == 1:
            dispatcher.utter_message(response="utter_wrong_code_last_try")
            return {"receipt_code": None}
        minutes = await asyncio.to_thread(reports.wrong_code_lockout, tracker.sender_id)
    utter_locked(dispatcher, minutes)
    return {"receipt_code": None, "requested_slot": None}


def utter_locked(dispatcher: CollectingDispatcher, minutes: int) -> None:
    if minutes == 1:
        dispatcher.utter_message(response="utter_code_throttled_one_minute")
    else:
        dispatcher.utter_message(response="utter_code_throttled", minutes=minutes)


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
        if latest_intent(tracker) == "share_evidence" and tracker.get_slot("receipt_code"):
            caption = entity(tracker, "caption")
            events += evidence_events(tracker, dispatcher, None if caption else "utter_followup_evidence_received")
            if caption:
                events.append(SlotSet("followup_text", clip(caption, dispatcher)))
        return events

    def validate_followup_text(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if match_key(value or "") in DONE_WORDS and tracker.get_slot("evidence_ids"):
            return {"followup_text": NO_TEXT}
        text = clip(value or "", dispatcher)
        return {"followup_text": text or None}


class ActionAskFollowupText(Action):
    """Asks for the new information, except right after a file (its acknowledgement said what next)."""

    def name(self) -> str:
        return "action_ask_followup_text"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        if latest_intent(tracker) != "share_evidence":
            dispatcher.utter_message(response="utter_ask_followup_text")
        return []


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        code = tracker.get_slot("receipt_code")
        if not code:
            return []  # the code question ended without a code (the citizen was told why)
        try:
            view = await asyncio.to_thread(reports.report_status, code, sender_id=tracker.sender_id)
        except reports.CodeLocked as locked:
            utter_locked(dispatcher, locked.minutes)
            return [SlotSet("receipt_code", None)]
        if view is None:
            dispatcher.utter_message(response="utter_code_not_found")
            return [SlotSet("receipt_code", None)]
        language = language_of(tracker)
        category = get_category(view.category)
        messages = "\n".join(response_text(domain, "utter_police_message", language, message=m) for m in view.messages)
        dispatcher.utter_message(
            response="utter_status",
            public_number=view.public_number,
            category=category.label(language) if category else view.category,
            status=status_label(view.status, language),
            messages=messages,
        )
        if view.messages and "?" in view.messages[-1]:
            dispatcher.utter_message(response="utter_how_to_reply", receipt_code=code)
        return [SlotSet("receipt_code", None)]


class ActionSaveFollowup(Action):
    def name(self) -> str:
        return "action_save_followup"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        code = tracker.get_slot("receipt_code")
        if not code:
            return []
        evidence_ids = tuple(tracker.get_slot("evidence_ids") or ())
        text = tracker.get_slot("followup_text")
        try:
            public_number = await asyncio.to_thread(
                reports.add_followup, code, None if text == NO_TEXT else text, evidence_ids,
                sender_id=tracker.sender_id)
        except reports.CodeLocked as locked:
            utter_locked(dispatcher, locked.minutes)
        else:
            if public_number is None:
                dispatcher.utter_message(response="utter_code_not_found")
            else:
                dispatcher.utter_message(response="utter_followup_saved", public_number=public_number)
        return [SlotSet("receipt_code", None), SlotSet("followup_text", None), SlotSet("evidence_ids", None)]

