"""Actions that draft, review, submit or discard a report."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import (
    BOOKKEEPING_SLOTS,
    DRAFT_SLOTS,
    KeepsExtractedSlots,
    category_buttons,
    clip,
    district_buttons,
    district_list,
    entities,
    entity,
    language_of,
    latest_intent,
    latest_text,
    reset_draft,
    response_text,
)
from satark.language import language_clue
from satark.offices import load_offices
from satark.places import load_gazetteer
from satark.reports import ReportDraft, StorageUnavailable, submit_report
from satark.taxonomy import category_from_intent, category_guess, get_category
from satark.text import match_key, shorten

log = logging.getLogger(__name__)

ACCOUNT_IN_SUMMARY = 200
DETAILS_IN_SUMMARY = 300
SKIP_WORDS = frozenset(map(match_key, (
    "skip", "no", "none", "nothing", "nahi", "nahin", "nhi", "na", "kuch nahi", "koi nahi", "chhodo",
    "नहीं", "नही", "कुछ नहीं", "कोई नहीं", "छोड़ें", "छोड़ो", "skip karo", "no evidence", "सबूत नहीं है",
    "that's all", "thats all", "bas itna", "बस इतना", "बस",  # the answer the button offers once files came
)))
# Answers that carry no information about a place, a time or what happened.
NO_INFORMATION = SKIP_WORDS | frozenset(map(match_key, (
    "idk", "i dont know", "i don't know", "dont know", "don't know", "dunno", "no idea", "not sure", "pata nahi",
    "pata nhi", "nahi pata", "nhi pata", "malum nahi", "maloom nahi", "mujhe nahi pata", "ok", "okay", "hmm",
    "yes", "haan", "ha", "han", "पता नहीं", "नहीं पता", "मालूम नहीं", "मुझे नहीं पता", "हाँ", "हां", "ठीक है",
)))
SMALL_TALK = frozenset({"greet", "thank", "goodbye"})
SMALL_TALK_MIN_CONFIDENCE = 0.8
FREE_TEXT_ANSWERS = frozenset({"place", "incident_time", "details"})
WOMEN_HELPLINE_CATEGORIES = frozenset({"crime_against_women", "human_trafficking"})
MEDIA_ATTACHED = "media"
VOICE_KINDS = frozenset({"voice", "audio"})
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
    return category_guess(tracker.latest_message)


def intent_confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


def new_draft_id() -> str:
    return uuid.uuid4().hex


def said_in_message(tracker: Tracker, text: str, known: dict[str, Any], language: str | None) -> dict[str, Any]:
    """District, place and time a complaint already names, for the slots `known` does not have.

    Time expressions and villages are regex entities of the NLU data (data/nlu/entities.yml);
    districts and police stations come from the offices file and the gazetteer beside it.
    """
    found: dict[str, Any] = {}
    district_code = known.get("district")
    if not district_code:
        district = load_offices().find_district(text)
        district_code = found["district"] = district.code if district else None
    villages = entities(tracker, "village")
    rest = text
    for village in villages:
        rest = rest.replace(village, " ")
    gazetteer = load_gazetteer()
    station = gazetteer.find(rest, district_code)
    if station is not None and not district_code:
        found["district"] = station.district_code
    if not known.get("place"):
        parts = villages + ([gazetteer.area_text(station, language)] if station else [])
        if parts:
            found["place"] = shorten(", ".join(parts), 500)
    times = entities(tracker, "incident_time")
    if times and not known.get("incident_time"):
        found["incident_time"] = shorten(", ".join(times), 500)
    return {slot: value for slot, value in found.items() if value}


def draft_values(tracker: Tracker) -> dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in ("district", "place", "incident_time")}


def urgent_events(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[EventType]:
    """Anything said to be happening right now: the 112 advice at once, the report marked urgent."""
    if tracker.get_slot("urgent") or not entity(tracker, "urgency"):
        return []
    dispatcher.utter_message(response="utter_urgent")
    return [SlotSet("urgent", True)]


def is_vague(text: str, domain: DomainDict) -> bool:
    """An answer with no information: no letters or digits (🔫🔫, "?"), or "idk", "no", "पता नहीं"."""
    key = match_key(text)
    stored_unknown = {match_key(response_text(domain, "utter_not_known", language)) for language in ("hi", "en")}
    return key not in stored_unknown and (not any(ch.isalnum() for ch in key) or key in NO_INFORMATION)


def answer_or_reask(slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                    domain: DomainDict, limit: int) -> dict[str, Any]:
    """An informative answer is kept; the first vague one gets a gentle re-ask, the second is
    recorded as "not known"."""
    text = clip(value or "", dispatcher, limit)
    if not text:
        return {slot: None}
    if not is_vague(text, domain):
        return {slot: text, "vague_answers": None}
    if not tracker.get_slot("vague_answers"):
        dispatcher.utter_message(response="utter_reask_vague")
        return {slot: None, "vague_answers": 1.0}
    return {slot: response_text(domain, "utter_not_known", language_of(tracker)), "vague_answers": None}


def evidence_events(tracker: Tracker, dispatcher: CollectingDispatcher, response: str | None = None
                    ) -> list[EventType]:
    """Add an evidence item the connector stored to the draft: one acknowledgement per new file."""
    evidence_id = entity(tracker, "evidence_id")
    ids = list(tracker.get_slot("evidence_ids") or [])
    if not evidence_id or evidence_id in ids:
        return []
    ids.append(evidence_id)
    if response:
        dispatcher.utter_message(response=response)
    elif len(ids) == 1:
        dispatcher.utter_message(response="utter_evidence_received")
    else:
        dispatcher.utter_message(response="utter_evidence_received_many", count=len(ids))
    return [SlotSet("evidence_ids", ids)]


def voice_note_description(tracker: Tracker, dispatcher: CollectingDispatcher, domain: DomainDict
                           ) -> dict[str, Any]:
    """A voice note instead of a typed complaint: kept as evidence, the category menu comes next."""
    if tracker.get_slot("description") or entity(tracker, "evidence_kind") not in VOICE_KINDS:
        return {}
    dispatcher.utter_message(response="utter_voice_kept")
    return {"description": response_text(domain, "utter_voice_note_description", tracker.get_slot("language")),
            "category_guess": None, "draft_id": tracker.get_slot("draft_id") or new_draft_id()}


def with_details(tracker: Tracker, text: str, dispatcher: CollectingDispatcher) -> str:
    """The draft's details with `text` added (a caption, a detail remembered at the summary)."""
    return clip(" ".join(filter(None, (tracker.get_slot("details"), text))), dispatcher)


def caption_complaint(tracker: Tracker, dispatcher: CollectingDispatcher, domain: DomainDict) -> dict[str, Any]:
    """A photo or video whose caption says what happened, before any complaint: the caption is the
    complaint, understood like typed text (the connector reads it with the NLU model and sends the
    category it sees as `caption_category`, and its village, time and urgency entities; district and
    language come from its words)."""
    caption = entity(tracker, "caption")
    if not caption or is_vague(caption, domain) or tracker.get_slot("description"):
        return {}
    text = clip(caption, dispatcher)
    language = tracker.get_slot("language") or language_clue(text)
    guess = get_category(entity(tracker, "caption_category"))
    slots: dict[str, Any] = {"description": text, "category_guess": guess.key if guess else None,
                             "draft_id": tracker.get_slot("draft_id") or new_draft_id()}
    if language and not tracker.get_slot("language"):
        slots["language"] = language
    return {**slots, **said_in_message(tracker, text, draft_values(tracker), language)}


class ValidateReportForm(KeepsExtractedSlots):
    def name(self) -> str:
        return "validate_report_form"

    async def get_extraction_events(self, dispatcher, tracker, domain) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        intent = latest_intent(tracker)
        events += urgent_events(tracker, dispatcher)
        if intent == "share_evidence":
            events += evidence_events(tracker, dispatcher)
            caption = entity(tracker, "caption")
            requested = tracker.get_slot("requested_slot")
            if requested == "evidence":
                events.append(SlotSet("evidence", clip(caption, dispatcher, 1000) if caption else MEDIA_ATTACHED))
            elif requested in {"description", "language"}:
                slots = (caption_complaint(tracker, dispatcher, domain)
                         or voice_note_description(tracker, dispatcher, domain))
                events += [SlotSet(slot, value) for slot, value in slots.items()]
            elif caption and requested:  # (none asked yet: the form starts after action_attach_evidence took it)
                events.append(SlotSet("details", with_details(tracker, caption, dispatcher)))
        elif intent in SMALL_TALK:
            requested = tracker.get_slot("requested_slot")
            if requested in FREE_TEXT_ANSWERS and intent_confidence(tracker) < SMALL_TALK_MIN_CONFIDENCE:
                # "every afternoon" can look like "good afternoon": an unsure greeting is an answer.
                events.append(SlotSet(requested, latest_text(tracker)))
            else:
                # Small talk is not an answer: the open question is asked again (this event keeps
                # the form in control instead of letting the turn fall through to other rules).
                events.append(SlotSet("welcomed", True))
        return events

    async def extract_language(self, dispatcher, tracker, domain) -> dict[str, Any]:
        """A citizen who writes instead of tapping a language button is answered in their language;
        a message that shows no language (an emoji, "ok") gets the question again."""
        if tracker.get_slot("requested_slot") != "language" or tracker.get_slot("language"):
            return {}
        intent = latest_intent(tracker)
        if intent in {"language_hindi", "language_english", "cancel", "help", "check_status", "add_information",
                      "share_evidence"}:
            return {}
        text = latest_text(tracker)
        language = language_clue(text)
        slots: dict[str, Any] = {"language": language}
        if language and category_from_intent(intent) and not tracker.get_slot("description"):
            slots.update(description=clip(text, dispatcher), category_guess=guess_category(tracker),
                         draft_id=tracker.get_slot("draft_id") or new_draft_id())
            slots.update(said_in_message(tracker, text, draft_values(tracker), language))
        return slots

    async def extract_incident_time(self, dispatcher, tracker, domain) -> dict[str, Any]:
        """A time expression answers the "when" question whatever intent NLU saw ("abhi" is short)."""
        if (tracker.get_slot("requested_slot") == "incident_time" and entities(tracker, "incident_time")
                and latest_intent(tracker) != "share_evidence"):  # a caption's time words join the details
            return {"incident_time": latest_text(tracker)}
        return {}

    async def extract_evidence(self, dispatcher, tracker, domain) -> dict[str, Any]:
        """"Skip" in any wording ends the evidence question, even when NLU read it as "cancel"."""
        if tracker.get_slot("requested_slot") == "evidence" and match_key(latest_text(tracker)) in SKIP_WORDS:
            return {"evidence": "none"}
        return {}

    async def extract_category(self, dispatcher, tracker, domain) -> dict[str, Any]:
        intent = latest_intent(tracker)
        if intent == "choose_category" and get_category(entity(tracker, "category")):
            return {"category": entity(tracker, "category")}
        if tracker.get_slot("requested_slot") != "category":
            return {}
        guess = tracker.get_slot("category_guess")
        if intent == "affirm" and guess:
            return {"category": guess}
        if intent == "deny":
            return {"category_guess": None}
        if category_from_intent(intent):
            return {"category_guess": category_from_intent(intent).key}
        if intent in {"cancel", "help", "language_hindi", "language_english", "check_status", "add_information"}:
            return {}
        if intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        # Anything else: keep the question open (and the form in control).
        return {"category_guess": guess}

    def validate_description(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if value == tracker.get_slot("description") and tracker.get_slot("category_guess"):
            return {"description": value}  # already understood (the form resumes after a pause)
        text = clip(value or "", dispatcher)
        if len(text) < 3 or is_vague(text, domain):
            return {"description": None}
        if latest_intent(tracker) == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
            return {"description": None}
        return {
            "description": text,
            "category_guess": tracker.get_slot("category_guess") or guess_category(tracker),
            "draft_id": tracker.get_slot("draft_id") or new_draft_id(),
            **said_in_message(tracker, text, draft_values(tracker), language_of(tracker)),
        }

    def validate_category(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return {"category": value if get_category(value) else None}

    def validate_district(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        district = load_offices().match_district(value)
        if district is None:
            language = language_of(tracker)
            dispatcher.utter_message(response="utter_district_unknown", given=shorten(value or "", 60),
                                     districts=district_list(language))
            return {"district": None}
        return {"district": district.code}

    def validate_place(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return answer_or_reask("place", value, dispatcher, tracker, domain, 500)

    def validate_incident_time(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return answer_or_reask("incident_time", value, dispatcher, tracker, domain, 500)

    def validate_details(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return answer_or_reask("details", value, dispatcher, tracker, domain, 4000)

    def validate_evidence(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = clip(value or "", dispatcher, 1000)
        if match_key(text) in SKIP_WORDS:
            return {"evidence": "none"}
        return {"evidence": text or None}


class ActionWelcome(Action):
    """The welcome with the anonymity promise and the 112 advice, once per conversation, in the
    language the first message shows (both languages when it shows none); urgent advice at once.

    Texts are taken from the domain for the language found here, because responses are rendered
    before this action's own slot events apply.
    """

    def name(self) -> str:
        return "action_welcome"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        events: list[EventType] = []
        language = tracker.get_slot("language") or language_clue(latest_text(tracker))
        if language and not tracker.get_slot("language"):
            events.append(SlotSet("language", language))
        if not tracker.get_slot("welcomed"):
            utter_in(dispatcher, domain, "utter_welcome", language)
            events.append(SlotSet("welcomed", True))
        if entity(tracker, "urgency") and not tracker.get_slot("urgent"):
            utter_in(dispatcher, domain, "utter_urgent", language)
            events.append(SlotSet("urgent", True))
        return events


def utter_in(dispatcher: CollectingDispatcher, domain: DomainDict, response: str, language: str | None) -> None:
    """Utter a domain response in a language the tracker does not show yet (named as the response,
    so the conversation history says which response it was)."""
    dispatcher.utter_message(text=response_text(domain, response, language), utter_action=response)


def asked_before_these_files(tracker: Tracker, questions: set[str]) -> bool:
    """Whether one of `questions` is still the open question and the citizen has sent only files
    since it was asked. An album arrives as one message per photo: each is acknowledged, and
    asking again after every photo buried the question (and renewed its buttons) under copies.
    A voice note is answered with what comes next (it may stand for the complaint), so not here."""
    if entity(tracker, "evidence_kind") in VOICE_KINDS:
        return False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if ((event.get("parse_data") or {}).get("intent") or {}).get("name") != "share_evidence":
                return False
        elif event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") in questions:
            return True
    return False


class ActionAskLanguage(Action):
    def name(self) -> str:
        return "action_ask_language"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        events: list[EventType] = []
        if not tracker.get_slot("welcomed"):
            dispatcher.utter_message(response="utter_welcome")
            events.append(SlotSet("welcomed", True))
        if not asked_before_these_files(tracker, {"utter_ask_language"}):
            dispatcher.utter_message(response="utter_ask_language")
        return events


class ActionAskDescription(Action):
    """The citizen's own account; not asked again for each photo of an album."""

    def name(self) -> str:
        return "action_ask_description"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        if not asked_before_these_files(tracker, {"utter_ask_description"}):
            dispatcher.utter_message(response="utter_ask_description")
        return []


class ActionAskEvidence(Action):
    """Evidence, or more of it: a citizen who already sent files is told they are in the report."""

    def name(self) -> str:
        return "action_ask_evidence"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        files = len(tracker.get_slot("evidence_ids") or [])
        if files:
            dispatcher.utter_message(response="utter_ask_more_evidence", count=files)
        else:
            dispatcher.utter_message(response="utter_ask_evidence")
        return []


class ActionAskCategory(Action):
    """Confirm the category NLU understood, or offer the menu when there is no guess."""

    def name(self) -> str:
        return "action_ask_category"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        if asked_before_these_files(tracker, {"utter_category_guess", "utter_choose_category"}):
            return []
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
        if not asked_before_these_files(tracker, {"utter_ask_district"}):
            dispatcher.utter_message(response="utter_ask_district", buttons=district_buttons(language_of(tracker)))
        return []


class ActionShowCategoryMenu(Action):
    def name(self) -> str:
        return "action_show_category_menu"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_choose_category", buttons=category_buttons(language_of(tracker)))
        return []


class ActionHelpInForm(Action):
    """Help inside the report: what is going on, and the categories while they are still open."""

    def name(self) -> str:
        return "action_help_in_form"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_help_in_form")
        if tracker.get_slot("requested_slot") in {"language", "description", "category"}:
            dispatcher.utter_message(response="utter_choose_category",
                                     buttons=category_buttons(language_of(tracker)))
        return []


class ActionPauseReport(Action):
    """A status check or an addition to an earlier report in the middle of a new one: the form
    stops, the draft stays, and the form resumes afterwards (rules on `stage: paused`)."""

    def name(self) -> str:
        return "action_pause_report"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        return [ActiveLoop(None), SlotSet("stage", "paused")]


class ActionCaptureComplaint(Action):
    """Start a draft from a complaint (or a category tapped in the menu) typed outside the form,
    with everything the message already says; at the summary, add it to the draft's details."""

    def name(self) -> str:
        return "action_capture_complaint"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        text = latest_text(tracker)
        if tracker.get_slot("stage") == "summary":
            # More words at the summary (a detail remembered late) join the draft.
            added = with_details(tracker, text, dispatcher)
            dispatcher.utter_message(response="utter_added_to_draft")
            return [SlotSet("details", added)]
        events = reset_draft() + [SlotSet("draft_id", new_draft_id())]
        language = tracker.get_slot("language") or language_clue(text)
        if language and not tracker.get_slot("language"):
            events.append(SlotSet("language", language))
        chosen = get_category(entity(tracker, "category"))
        if latest_intent(tracker) == "choose_category" and chosen:
            return events + [SlotSet("category", chosen.key)]
        events += [SlotSet("description", clip(text, dispatcher)), SlotSet("category_guess", guess_category(tracker))]
        return events + [SlotSet(slot, value) for slot, value in said_in_message(tracker, text, {}, language).items()]


class ActionAttachEvidence(Action):
    """A file sent outside a form: added to the draft (a voice note may be the complaint itself)."""

    def name(self) -> str:
        return "action_attach_evidence"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        events = evidence_events(tracker, dispatcher)
        caption = entity(tracker, "caption")
        slots = caption_complaint(tracker, dispatcher, domain) or voice_note_description(tracker, dispatcher, domain)
        if caption and not slots:
            slots["details"] = with_details(tracker, caption, dispatcher)
        return events + [SlotSet(slot, value) for slot, value in slots.items()]


def summary_values(tracker: Tracker, domain: DomainDict) -> dict[str, str]:
    language = language_of(tracker)
    category = get_category(tracker.get_slot("category"))
    district = load_offices().district(tracker.get_slot("district"))
    files = len(tracker.get_slot("evidence_ids") or [])
    note = tracker.get_slot("evidence")
    parts = []
    if files:
        parts.append(response_text(domain, "utter_summary_files" if files == 1 else "utter_summary_files_many",
                                   language, count=files))
    if note and note not in {"none", MEDIA_ATTACHED}:
        parts.append(note)
    return {
        "category": category.label(language) if category else "-",
        "district": district.label(language) if district else "-",
        "place": tracker.get_slot("place") or "-",
        "incident_time": tracker.get_slot("incident_time") or "-",
        "urgent": response_text(domain, "utter_summary_urgent", language) if tracker.get_slot("urgent") else "",
        "account": shorten(tracker.get_slot("description") or "-", ACCOUNT_IN_SUMMARY),
        "details": shorten(tracker.get_slot("details") or "-", DETAILS_IN_SUMMARY),
        "evidence": "; ".join(parts) or response_text(domain, "utter_summary_none", language),
    }


class ActionShowSummary(Action):
    def name(self) -> str:
        return "action_show_summary"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_summary", **summary_values(tracker, domain))
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
        if match_key(latest_text(tracker)) in SKIP_WORDS:
            # "skip" or "nothing" typed at "Send it?" can read as a weak yes: a report is sent
            # only on a clear yes, so the question is asked again with its buttons.
            dispatcher.utter_message(response="utter_confirm_clearly")
            dispatcher.utter_message(response="utter_summary", **summary_values(tracker, domain))
            return []
        try:
            receipt = await asyncio.to_thread(submit_report, draft)
        except StorageUnavailable:
            log.error("report could neither be stored nor spooled; the draft stays in the conversation")
            dispatcher.utter_message(response="utter_storage_failed")
            return []
        dispatcher.utter_message(response="utter_report_submitted", public_number=receipt.public_number,
                                 receipt_code=receipt.receipt_code)
        if draft.category in WOMEN_HELPLINE_CATEGORIES:
            dispatcher.utter_message(response="utter_women_helplines")
        return reset_draft()


class ValidateDiscardForm(FormValidationAction):
    """Asks before a typed "cancel" throws a draft away. Citizens say "skip it", "leave it" or
    "rehne do" meaning "nothing more", and NLU reads them as cancel; a report lost that way is
    rarely typed again, and photos sent before any text are as hard to gather twice. Without a
    description or evidence there is nothing to lose, and nothing is asked."""

    def name(self) -> str:
        return "validate_discard_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        return domain_slots if tracker.get_slot("description") or tracker.get_slot("evidence_ids") else []

    async def extract_discard_draft(self, dispatcher, tracker, domain) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "discard_draft":
            return {}
        return {"discard_draft": latest_intent(tracker) in {"affirm", "cancel"}}


class ActionCancelReport(Action):
    """Discards the draft, unless the citizen chose to keep it (`discard_draft` false): then the
    report form goes on where it was (rule on `stage: kept`). A cancel with no draft at all (e.g.
    of a status check) is not answered with "your draft has been discarded"."""

    def name(self) -> str:
        return "action_cancel_report"

    def run(self, dispatcher, tracker, domain) -> list[EventType]:
        if tracker.get_slot("discard_draft") is False:
            dispatcher.utter_message(response="utter_draft_kept")
            return [SlotSet("discard_draft", None), SlotSet("stage", "kept")]
        had_draft = any(tracker.get_slot(slot) for slot in DRAFT_SLOTS if slot not in BOOKKEEPING_SLOTS)
        dispatcher.utter_message(response="utter_report_cancelled" if had_draft else "utter_cancelled")
        return reset_draft() + [SlotSet("receipt_code", None), SlotSet("followup_text", None),
                                SlotSet("discard_draft", None)]
