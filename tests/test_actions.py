"""Custom actions with real rasa-sdk trackers, a CollectingDispatcher and a real SQLite database."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.report import (
    ActionAskDescription,
    ActionAskDistrict,
    ActionAskEvidence,
    ActionAskLanguage,
    ActionAttachEvidence,
    ActionCancelReport,
    ActionCaptureComplaint,
    ActionShowSummary,
    ActionSubmitReport,
    ActionWelcome,
    ValidateDiscardForm,
    ValidateReportForm,
)
from actions.status import ActionCheckStatus, ValidateStatusForm
from satark import reports
from satark.db.models import Report
from satark.db.session import get_session_factory
from satark.settings import PROJECT_ROOT
from tests.support.nlu import regex_entities

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def make_tracker(slots=None, intent="out_of_scope", text="", entities=None, ranking=None,
                 sender="c0ffee") -> Tracker:
    """A tracker whose latest message carries `entities`, else the regex entities NLU finds in `text`."""
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update({"stage": "idle", **(slots or {})})
    message = {"intent": {"name": intent, "confidence": 0.9}, "text": text,
               "entities": regex_entities(text) if entities is None else entities,
               "intent_ranking": ranking or []}
    events = [{"event": "user", "text": text}]
    requested = all_slots.get("requested_slot")
    if requested and all_slots.get(requested) is not None:  # the slot this turn filled
        events.append({"event": "slot", "name": requested, "value": all_slots[requested]})
    return Tracker(sender, all_slots, message, events, False, None, {}, "action_listen")


def run(action, tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, DOMAIN)
    if asyncio.iscoroutine(events):
        events = asyncio.run(events)
    return dispatcher.messages, events


def slots_of(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(messages) -> list[str]:
    return [m.get("response") for m in messages]


FILLED = dict(language="en", description="kachi sharab", category="illegal_liquor", district="GZP",
              place="Saidpur canal", incident_time="every night", details="two men, a white pickup",
              evidence="none")


def form_turn(requested, value, intent="out_of_scope", **slots):
    tracker = make_tracker({**slots, "requested_slot": requested, requested: value}, intent=intent, text=value)
    return run(ValidateReportForm(), tracker)


def test_misspelt_district_is_matched_and_unknown_one_is_asked_again():
    _, events = form_turn("district", "gazipur", language="en")
    assert slots_of(events)["district"] == "GZP"
    messages, events = form_turn("district", "Lucknow", language="en")
    assert slots_of(events)["district"] is None
    assert responses(messages) == ["utter_district_unknown"]
    assert "Chandauli" in messages[0]["districts"]


@pytest.mark.parametrize("when, urgent", [
    ("abhi", True), ("right now!", True), ("अभी हो रहा है", True),
    ("kal raat", False), ("every Sunday", False), ("abhi tak kuch nahi hua", False),
])
def test_right_now_marks_the_report_urgent_and_repeats_112(when, urgent):
    messages, events = form_turn("incident_time", when, language="hi")
    assert bool(slots_of(events).get("urgent")) is urgent
    assert ("utter_urgent" in responses(messages)) is urgent


def test_skip_means_no_evidence():
    _, events = form_turn("evidence", "skip", language="en")
    assert slots_of(events)["evidence"] == "none"


def test_complaint_typed_first_becomes_the_draft_with_a_category_guess():
    tracker = make_tracker(intent="report_drugs", text="school ke paas ganja bikta hai")
    _, events = run(ActionCaptureComplaint(), tracker)
    slots = slots_of(events)
    assert slots["description"] == "school ke paas ganja bikta hai"
    assert slots["category_guess"] == "drugs"
    assert len(slots["draft_id"]) == 32


def test_summary_is_in_the_chosen_language():
    messages, events = run(ActionShowSummary(), make_tracker({**FILLED, "language": "hi", "urgent": True}))
    assert slots_of(events) == {"stage": "summary"}
    assert messages[0]["response"] == "utter_summary"
    assert messages[0]["category"] == "अवैध शराब"
    assert messages[0]["district"] == "गाज़ीपुर"
    assert "ज़रूरी" in messages[0]["urgent"]


def count_reports() -> int:
    with get_session_factory().begin() as session:
        return session.execute(select(func.count()).select_from(Report)).scalar_one()


def test_submit_stores_once_even_when_the_action_is_retried(runtime):
    tracker = make_tracker({**FILLED, "draft_id": uuid.uuid4().hex, "stage": "summary"})
    first, events = run(ActionSubmitReport(), tracker)
    again, _ = run(ActionSubmitReport(), tracker)  # Rasa retrying after a timeout
    assert count_reports() == 1
    assert first[0]["response"] == "utter_report_submitted"
    assert first[0]["receipt_code"] == again[0]["receipt_code"]
    assert slots_of(events)["draft_id"] is None and slots_of(events)["stage"] == "idle"


@pytest.mark.parametrize("typed", ["skip", "Skip", "nothing", "कुछ नहीं"])
def test_skip_typed_at_the_summary_sends_nothing_and_asks_again(runtime, typed):
    """NLU can read "skip" as a weak yes (0.32 with this model): only a clear yes sends the report."""
    tracker = make_tracker({**FILLED, "draft_id": uuid.uuid4().hex, "stage": "summary"}, intent="affirm", text=typed)
    messages, events = run(ActionSubmitReport(), tracker)
    assert count_reports() == 0
    assert responses(messages) == ["utter_confirm_clearly", "utter_summary"]
    assert events == []  # the draft and the summary stage stay
    messages, _ = run(ActionSubmitReport(), make_tracker(tracker.slots, intent="affirm", text="yes"))
    assert count_reports() == 1 and responses(messages) == ["utter_report_submitted"]


def test_submit_when_neither_database_nor_spool_can_keep_it_keeps_the_draft(runtime, monkeypatch):
    from tests.conftest import clear_caches

    monkeypatch.setenv("DATABASE_URL", "postgresql://satark@127.0.0.1:1/none")
    (runtime / "spool").write_text("")  # a file where the spool folder should be: it cannot be written
    clear_caches()
    monkeypatch.setattr(reports, "DB_ATTEMPTS", 2)
    messages, events = run(ActionSubmitReport(), make_tracker({**FILLED, "draft_id": uuid.uuid4().hex}))
    assert responses(messages) == ["utter_storage_failed"]
    assert events == []


def test_status_with_the_right_code_shows_status_and_police_message(runtime):
    receipt = reports.submit_report(reports.ReportDraft(
        draft_key=uuid.uuid4().hex, category="gambling", district_code="JNP", description="satta",
        place="Kerakat", incident_time="daily", details="-", language="en"))
    reports.message_reporter(receipt.public_number, "Raid planned, thank you.", "SP-JNP")
    code = receipt.receipt_code.lower()
    _, events = run(ValidateStatusForm(), make_tracker(
        {"requested_slot": "receipt_code", "receipt_code": code}, text=code))
    assert slots_of(events)["receipt_code"] == receipt.receipt_code
    messages, _ = run(ActionCheckStatus(), make_tracker({"receipt_code": receipt.receipt_code, "language": "en"}))
    assert messages[0]["public_number"] == receipt.public_number
    assert "Raid planned" in messages[0]["messages"]


def test_wrong_codes_get_a_clear_answer_then_a_pause(runtime):
    seen = []
    for _ in range(reports.get_settings().max_wrong_codes + 1):
        tracker = make_tracker({"requested_slot": "receipt_code", "receipt_code": "AAAA-BBBB-CCCC"},
                               text="AAAA-BBBB-CCCC", sender="guesser")
        messages, events = run(ValidateStatusForm(), tracker)
        assert slots_of(events)["receipt_code"] is None
        seen.append(responses(messages)[0])
    assert seen[0] == "utter_wrong_code"
    assert seen[-1] == "utter_code_throttled"


def test_form_validation_events_are_slot_sets():
    _, events = form_turn("place", "Zamania ghat", language="en")
    assert SlotSet("place", "Zamania ghat") in events


def test_skip_in_hindi_is_not_taken_for_cancel():
    tracker = make_tracker({"requested_slot": "evidence", "language": "hi"}, intent="cancel", text="छोड़ें")
    _, events = run(ValidateReportForm(), tracker)
    assert slots_of(events)["evidence"] == "none"


def test_discarding_is_asked_only_when_there_is_a_draft_to_lose():
    form = ValidateDiscardForm()
    with_draft = make_tracker({"description": "liquor sold near the school"}, intent="cancel", text="skip it")
    photos_only = make_tracker({"evidence_ids": ["a1", "b2"]}, intent="cancel", text="rehne do")
    empty = make_tracker({"draft_id": "d1"}, intent="cancel", text="cancel")
    for asked in (with_draft, photos_only):
        assert asyncio.run(form.required_slots(["discard_draft"], CollectingDispatcher(), asked, DOMAIN)) == [
            "discard_draft"]
    assert asyncio.run(form.required_slots(["discard_draft"], CollectingDispatcher(), empty, DOMAIN)) == []


@pytest.mark.parametrize(("intent", "text", "discard"), [
    ("affirm", "yes", True), ("cancel", "cancel it", True), ("deny", "no", False),
    ("out_of_scope", "wait, one more thing", False), ("greet", "hi", False)])
def test_only_a_clear_yes_or_another_cancel_discards(intent, text, discard):
    tracker = make_tracker({"requested_slot": "discard_draft", "description": "liquor"}, intent=intent, text=text)
    assert asyncio.run(ValidateDiscardForm().extract_discard_draft(CollectingDispatcher(), tracker, DOMAIN)) == {
        "discard_draft": discard}


def test_a_kept_draft_stays_and_a_discarded_one_goes():
    kept_messages, kept = run(ActionCancelReport(), make_tracker({"discard_draft": False, "description": "liquor"}))
    assert responses(kept_messages) == ["utter_draft_kept"]
    assert slots_of(kept) == {"discard_draft": None, "stage": "kept"}
    gone_messages, gone = run(ActionCancelReport(), make_tracker({"discard_draft": True, "description": "liquor"}))
    assert responses(gone_messages) == ["utter_report_cancelled"]
    assert slots_of(gone)["description"] is None and slots_of(gone)["stage"] == "idle"


def test_a_cancel_without_a_draft_does_not_claim_one_was_discarded():
    nothing, _ = run(ActionCancelReport(), make_tracker({"draft_id": "d1", "receipt_code": None}))
    assert responses(nothing) == ["utter_cancelled"]
    chosen, _ = run(ActionCancelReport(), make_tracker({"category": "drugs"}))  # picked from the menu
    assert responses(chosen) == ["utter_report_cancelled"]


def test_declining_the_guess_clears_it_so_the_menu_is_offered():
    tracker = make_tracker({"requested_slot": "category", "category_guess": "drugs", "language": "en"},
                           intent="deny", text="no")
    _, events = run(ValidateReportForm(), tracker)
    assert slots_of(events) == {"category_guess": None}


def test_a_photo_at_the_evidence_step_is_kept_in_the_draft():
    tracker = make_tracker({"requested_slot": "evidence", "language": "en", "evidence_ids": ["a1"]},
                           intent="share_evidence", text='/share_evidence{"evidence_id":"b2"}',
                           entities=[{"entity": "evidence_id", "value": "b2"}])
    messages, events = run(ValidateReportForm(), tracker)
    assert slots_of(events)["evidence_ids"] == ["a1", "b2"]
    assert slots_of(events)["evidence"] == "media"
    assert responses(messages) == ["utter_evidence_received_many"] and messages[0]["count"] == 2


def test_the_same_file_twice_is_acknowledged_once():
    tracker = make_tracker({"requested_slot": "details", "language": "hi", "evidence_ids": ["b2"]},
                           intent="share_evidence", text='/share_evidence{"evidence_id":"b2"}',
                           entities=[{"entity": "evidence_id", "value": "b2"}])
    messages, events = run(ValidateReportForm(), tracker)
    assert messages == [] and "evidence_ids" not in slots_of(events)


def test_a_photo_with_a_caption_at_the_evidence_step_keeps_the_caption_as_the_note():
    tracker = make_tracker({"requested_slot": "evidence", "language": "en"}, intent="share_evidence",
                           text="/share_evidence", entities=[{"entity": "evidence_id", "value": "c3"},
                                                            {"entity": "caption", "value": "the shed"}])
    messages, events = run(ValidateReportForm(), tracker)
    assert slots_of(events)["evidence"] == "the shed" and slots_of(events)["evidence_ids"] == ["c3"]
    assert responses(messages) == ["utter_evidence_received"]


def test_a_complaint_instead_of_a_language_choice_starts_the_draft_in_hindi():
    tracker = make_tracker({"requested_slot": "language"}, intent="report_gambling",
                           text="mohalle me roz satta chalta hai")
    _, events = run(ValidateReportForm(), tracker)
    slots = slots_of(events)
    assert slots["language"] == "hi"
    assert slots["category_guess"] == "gambling"
    assert slots["description"] == "mohalle me roz satta chalta hai"


def test_words_at_the_summary_join_the_details():
    tracker = make_tracker({**FILLED, "stage": "summary"}, intent="out_of_scope", text="the shed behind the school")
    messages, events = run(ActionCaptureComplaint(), tracker)
    assert slots_of(events) == {"details": "two men, a white pickup the shed behind the school"}
    assert responses(messages) == ["utter_added_to_draft"]


@pytest.mark.parametrize("typed, cleared", [
    ("change district", "district"), ("जगह बदलनी है", "place"), ("samay galat hai", "incident_time"),
    ("photo badalna hai", "evidence_ids"),
])
def test_a_typed_change_request_clears_the_named_field(typed, cleared):
    from actions.report import ActionChangeField

    tracker = make_tracker({**FILLED, "stage": "summary"}, intent="change_field", text=typed)
    _, events = run(ActionChangeField(), tracker)
    slots = slots_of(events)
    assert cleared in slots and slots[cleared] is None
    assert slots["stage"] == "idle"


# -- the first message counts ------------------------------------------------------------------

COMPLAINTS = {
    "romanized": ("Sir Ghazipur ke Saidpur thana ke Rampur gaon me kal raat se roj kachi sharab bik rahi hai",
                  "hi", "Rampur gaon, थाना सैदपुर क्षेत्र", "kal raat, roj"),
    "devanagari": ("गाज़ीपुर के सैदपुर थाना क्षेत्र के ग्राम रामपुर में पिछले सोमवार से हर शाम कच्ची शराब बिक रही है",
                   "hi", "ग्राम रामपुर, थाना सैदपुर क्षेत्र", "पिछले सोमवार, हर शाम"),
    "english": ("Every evening illegal liquor is sold in Rampur village near Saidpur police station, Ghazipur",
                "en", "Rampur village, Saidpur police station area", "Every evening"),
}


@pytest.mark.parametrize("script", COMPLAINTS)
def test_a_complaint_typed_first_keeps_what_it_already_says(script):
    text, language, place, when = COMPLAINTS[script]
    _, events = run(ActionCaptureComplaint(), make_tracker(intent="report_illegal_liquor", text=text))
    slots = slots_of(events)
    assert (slots["language"], slots["district"], slots["place"], slots["incident_time"]) == (
        language, "GZP", place, when)
    assert slots["description"] == text and slots["category_guess"] == "illegal_liquor"


def test_a_police_station_names_its_district():
    _, events = run(ActionCaptureComplaint(), make_tracker(intent="report_gambling",
                                                           text="Zamania thana ke paas roz juaa hota hai"))
    assert slots_of(events)["district"] == "GZP"
    assert slots_of(events)["place"] == "थाना ज़मानियां क्षेत्र"


def test_a_complaint_in_the_description_answer_fills_the_later_questions():
    text = "jaunpur me kerakat thana ke paas har raat satta chalta hai"
    tracker = make_tracker({"requested_slot": "description", "description": text, "language": "hi"},
                           intent="report_gambling", text=text)
    _, events = run(ValidateReportForm(), tracker)
    slots = slots_of(events)
    assert (slots["district"], slots["incident_time"]) == ("JNP", "har raat")
    assert "केराकत" in slots["place"]


@pytest.mark.parametrize("text, language", [("Hi", None), ("🤔🤔🙏", None), ("namaste", "hi"),
                                            ("नमस्ते", "hi"), ("there is a problem in my village", "en")])
def test_the_welcome_is_in_the_language_the_first_message_shows(text, language):
    messages, events = run(ActionWelcome(), make_tracker(intent="greet", text=text))
    assert slots_of(events).get("language") == language and slots_of(events)["welcomed"] is True
    assert [m["utter_action"] for m in messages] == ["utter_welcome"]
    hindi, english = "गुमनाम" in messages[0]["text"], "anonymously" in messages[0]["text"]
    assert (hindi, english) == {None: (True, True), "hi": (True, False), "en": (False, True)}[language]


def test_the_welcome_comes_once_and_an_emergency_gets_the_112_advice_at_once():
    tracker = make_tracker({"welcomed": True, "language": "hi"}, intent="report_serious_crime",
                           text="abhi goli chal rahi hai")
    messages, events = run(ActionWelcome(), tracker)
    assert [m["utter_action"] for m in messages] == ["utter_urgent"] and "112 पर कॉल" in messages[0]["text"]
    assert slots_of(events) == {"urgent": True}


def test_an_emoji_at_the_language_question_asks_again():
    _, events = run(ValidateReportForm(), make_tracker({"requested_slot": "language"}, intent="nlu_fallback",
                                                       text="🤔🤔🙏"))
    assert slots_of(events) == {"language": None}


@pytest.mark.parametrize("intent, text", [("greet", "Hi"), ("greet", "नमस्ते"), ("thank", "thanks")])
def test_small_talk_at_a_form_question_is_not_an_answer(intent, text):
    tracker = make_tracker({"requested_slot": "place", "language": "en"}, intent=intent, text=text)
    _, events = run(ValidateReportForm(), tracker)
    assert "place" not in slots_of(events) and slots_of(events) == {"welcomed": True}


@pytest.mark.parametrize("slot", ["place", "incident_time", "details"])
def test_an_answer_without_information_is_asked_once_more_then_recorded_as_not_known(slot):
    messages, events = form_turn(slot, "idk", language="en")
    assert slots_of(events)[slot] is None and responses(messages) == ["utter_reask_vague"]
    messages, events = form_turn(slot, "🔫🔫", language="hi", vague_answers=1.0)
    assert slots_of(events)[slot] == "ज्ञात नहीं" and messages == []


def test_an_out_of_scope_question_at_the_description_gets_a_pointer_and_is_not_the_complaint():
    messages, events = form_turn("description", "passport verification kab hoga mera?", intent="out_of_scope",
                                 language="hi")
    assert slots_of(events)["description"] is None
    assert responses(messages) == ["utter_out_of_scope"]
    pointer = [v["text"] for v in DOMAIN["responses"]["utter_out_of_scope"]]
    assert all(number in text for text in pointer for number in ("112", "1090", "1930", "UPCOP"))


def test_a_very_long_message_is_cut_and_the_citizen_is_told():
    text = "शराब " * 1000
    messages, events = form_turn("description", text, intent="report_illegal_liquor", language="hi")
    assert len(slots_of(events)["description"]) <= 4000
    assert responses(messages) == ["utter_text_cut"]


def test_a_voice_note_as_the_complaint_is_kept_and_the_menu_follows():
    tracker = make_tracker({"language": "hi"}, intent="share_evidence", text="/share_evidence",
                           entities=[{"entity": "evidence_id", "value": "v1"},
                                     {"entity": "evidence_kind", "value": "voice"}])
    messages, events = run(ActionAttachEvidence(), tracker)
    slots = slots_of(events)
    assert responses(messages) == ["utter_evidence_received", "utter_voice_kept"]
    assert slots["evidence_ids"] == ["v1"] and slots["description"] == "(वॉइस नोट — सबूत में)"
    assert slots["category_guess"] is None and len(slots["draft_id"]) == 32


def captioned_photo(slots: dict, caption: str, category: str | None = None) -> Tracker:
    found = [{"entity": "evidence_id", "value": "p1"}, {"entity": "evidence_kind", "value": "image"},
             {"entity": "caption", "value": caption}]
    found += [{"entity": "caption_category", "value": category}] if category else []
    return make_tracker(slots, intent="share_evidence", text="/share_evidence", entities=found)


def test_a_captioned_photo_before_any_complaint_is_the_complaint():
    caption = "Zamania mein school ke peeche roz raat ko kachchi sharab bikti hai"
    messages, events = run(ActionAttachEvidence(), captioned_photo({}, caption, "illegal_liquor"))
    slots = slots_of(events)
    assert slots["description"] == caption and slots["category_guess"] == "illegal_liquor"
    assert slots["language"] == "hi" and slots["evidence_ids"] == ["p1"] and len(slots["draft_id"]) == 32
    assert slots["district"] == "GZP"  # Zamania is a police station of Ghazipur
    assert "details" not in slots and responses(messages) == ["utter_evidence_received"]


def test_a_captioned_photo_at_the_description_question_answers_it():
    tracker = captioned_photo({"requested_slot": "description", "language": "en"},
                              "They sell ganja to students near the bus stand", "drugs")
    _, events = run(ValidateReportForm(), tracker)
    slots = slots_of(events)
    assert slots["description"] == "They sell ganja to students near the bus stand"
    assert slots["category_guess"] == "drugs" and "language" not in slots


def test_the_form_starting_after_a_captioned_photo_does_not_copy_the_caption_into_the_details():
    caption = "Cows are loaded into a truck at the pond every night"
    tracker = captioned_photo({"description": caption, "evidence_ids": ["p1"]}, caption, "cattle_smuggling")
    _, events = run(ValidateReportForm(), tracker)
    assert "details" not in slots_of(events) and "evidence_ids" not in slots_of(events)


def test_time_words_in_a_caption_at_the_time_question_are_not_the_answer():
    """The answer would be the connector's `/share_evidence{...}` text; the caption joins the details."""
    tracker = captioned_photo({"requested_slot": "incident_time", "description": "Gambling at the ghat"},
                              "the tent, every evening")
    tracker.latest_message["entities"].append({"entity": "incident_time", "value": "every evening"})
    _, events = run(ValidateReportForm(), tracker)
    assert "incident_time" not in slots_of(events) and slots_of(events)["details"] == "the tent, every evening"


@pytest.mark.parametrize("caption", ["👍", "ok", "?"])
def test_a_caption_that_says_nothing_is_not_taken_as_the_complaint(caption):
    _, events = run(ValidateReportForm(), captioned_photo({"requested_slot": "description", "language": "en"},
                                                          caption))
    assert "description" not in slots_of(events) and slots_of(events)["evidence_ids"] == ["p1"]


def test_a_caption_after_the_complaint_joins_the_details():
    tracker = captioned_photo({"description": "Gambling at the ghat", "details": "Evenings."}, "the red tent",
                              "gambling")
    _, events = run(ActionAttachEvidence(), tracker)
    slots = slots_of(events)
    assert slots["details"] == "Evenings. the red tent" and "description" not in slots


def test_the_summary_shows_the_citizens_own_words_shortened():
    description = "हमारे गाँव में " + "रोज़ कच्ची शराब बिकती है " * 20
    messages, _ = run(ActionShowSummary(), make_tracker({**FILLED, "description": description, "language": "hi"}))
    account = messages[0]["account"]
    assert account.startswith("हमारे गाँव में") and account.endswith("…") and len(account) <= 200


def test_a_crime_against_women_receipt_gives_the_womens_helplines(runtime):
    tracker = make_tracker({**FILLED, "category": "crime_against_women", "draft_id": uuid.uuid4().hex})
    messages, _ = run(ActionSubmitReport(), tracker)
    assert responses(messages) == ["utter_report_submitted", "utter_women_helplines"]
    assert all("1090" in v["text"] and "181" in v["text"] for v in DOMAIN["responses"]["utter_women_helplines"])


# -- returning reporters and the wrong-code lockout --------------------------------------------

def code_turn(text, sender="guesser"):
    tracker = make_tracker({"requested_slot": "receipt_code", "receipt_code": text, "language": "en"},
                           intent="check_status", text=text, sender=sender)
    return run(ValidateStatusForm(), tracker)


def test_text_that_is_not_a_code_gets_a_format_hint_and_costs_no_try(runtime):
    for _ in range(reports.get_settings().max_wrong_codes + 2):
        messages, events = code_turn("status 1234")
        assert responses(messages) == ["utter_code_format_hint"] and slots_of(events)["receipt_code"] is None
    assert reports.wrong_code_lockout("guesser") == 0


def test_wrong_codes_say_how_many_tries_remain_and_the_lock_ends_the_question(runtime):
    seen = []
    for _ in range(reports.get_settings().max_wrong_codes):
        messages, events = code_turn("AAAA-BBBB-CCCC")
        seen.append((responses(messages)[0], messages[0].get("tries_left"), "requested_slot" in slots_of(events)))
    assert seen[0] == ("utter_wrong_code", 4, False)
    assert seen[-2] == ("utter_wrong_code_last_try", None, False)
    assert seen[-1][0] == "utter_code_throttled" and seen[-1][2]  # requested_slot: None ends the form
    messages, _ = run(ActionCheckStatus(), make_tracker({"language": "en"}))
    assert messages == []  # nothing more to say; the citizen may start a new report


def test_a_police_question_tells_the_reporter_how_to_answer(runtime):
    receipt = reports.submit_report(reports.ReportDraft(
        draft_key=uuid.uuid4().hex, category="drugs", district_code="GZP", description="ganja",
        place="Saidpur", incident_time="roz", details="-", language="hi"))
    reports.message_reporter(receipt.public_number, "क्या आप दुकान का नाम बता सकते हैं?", "SP-GZP")
    messages, _ = run(ActionCheckStatus(), make_tracker({"receipt_code": receipt.receipt_code, "language": "hi"}))
    assert responses(messages) == ["utter_status", "utter_how_to_reply"]
    assert messages[1]["receipt_code"] == receipt.receipt_code
    assert "पुलिस का संदेश: क्या आप" in messages[0]["messages"]


def test_an_unsure_greeting_at_the_when_question_is_the_answer():
    tracker = make_tracker({"requested_slot": "incident_time", "language": "en"}, intent="greet",
                           text="every afternoon")
    tracker.latest_message["intent"]["confidence"] = 0.53
    _, events = run(ValidateReportForm(), tracker)
    assert slots_of(events)["incident_time"] == "every afternoon"


@pytest.mark.parametrize("text, code", [
    ("Dhanapur ghat", None), ("status Dhanapur ghat ke paas", None), ("status k7qm 4xpa 9trc", "K7QM4XPA9TRC"),
    ("mera code KMQP-WXTR-ZNHB hai", "KMQPWXTRZNHB"), ("KMQP WXTR ZNHB", None),
])
def test_only_code_shaped_text_with_a_digit_or_hyphens_is_a_receipt_code(text, code):
    from satark.receipts import find_code

    assert find_code(text) == code


def test_a_photo_while_adding_information_is_acknowledged_once_without_asking_again(runtime):
    from actions.status import ActionAskFollowupText, ValidateFollowupForm

    tracker = make_tracker({"requested_slot": "followup_text", "receipt_code": "K7QM-4XPA-9TRC", "language": "hi"},
                           intent="share_evidence", text="/share_evidence",
                           entities=[{"entity": "evidence_id", "value": "p1"}])
    messages, events = run(ValidateFollowupForm(), tracker)
    assert responses(messages) == ["utter_followup_evidence_received"]
    assert slots_of(events)["evidence_ids"] == ["p1"] and "followup_text" not in slots_of(events)
    asked_again, _ = run(ActionAskFollowupText(), tracker)
    assert asked_again == []
    done = make_tracker({"requested_slot": "followup_text", "followup_text": "bas", "evidence_ids": ["p1"],
                         "receipt_code": "K7QM-4XPA-9TRC"}, text="bas")
    _, events = run(ValidateFollowupForm(), done)
    assert slots_of(events)["followup_text"] == "none"


def album_tracker(question: str, photos: int, slots: dict | None = None) -> Tracker:
    """A conversation where `question` was asked and then `photos` photos arrived, one message each."""
    tracker = make_tracker({"language": "en", "welcomed": True, **(slots or {})}, intent="share_evidence",
                           text='/share_evidence{"evidence_id":"p"}')
    photo = {"event": "user", "text": "/share_evidence", "parse_data": {"intent": {"name": "share_evidence"}}}
    received = {"event": "bot", "text": "Evidence received", "metadata": {"utter_action": "utter_evidence_received"}}
    tracker.events = [
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
        {"event": "bot", "text": "The question", "metadata": {"utter_action": question}},
        *[event for _ in range(photos - 1) for event in (photo, received)],
        photo]
    return tracker


def test_the_evidence_question_says_that_files_already_sent_are_in_the_report():
    messages, _ = run(ActionAskEvidence(), make_tracker({"language": "hi", "evidence_ids": ["p1", "p2"]}))
    assert responses(messages) == ["utter_ask_more_evidence"] and messages[0]["count"] == 2
    assert responses(run(ActionAskEvidence(), make_tracker({"language": "hi"}))[0]) == ["utter_ask_evidence"]


@pytest.mark.parametrize("answer", ["बस इतना", "That's all", "skip"])
def test_that_is_all_ends_the_evidence_question(answer):
    tracker = make_tracker({"requested_slot": "evidence", "evidence_ids": ["p1"]}, intent="out_of_scope", text=answer)
    assert slots_of(run(ValidateReportForm(), tracker)[1])["evidence"] == "none"


@pytest.mark.parametrize(("action", "question"), [
    (ActionAskLanguage(), "utter_ask_language"), (ActionAskDescription(), "utter_ask_description"),
    (ActionAskDistrict(), "utter_ask_district")])
def test_each_photo_of_an_album_is_acknowledged_without_asking_the_same_question_again(action, question):
    assert responses(run(action, album_tracker(question, photos=1))[0]) == []
    assert responses(run(action, album_tracker(question, photos=3))[0]) == []
    answered = album_tracker(question, photos=1)
    answered.events.insert(2, {"event": "user", "text": "what?", "parse_data": {"intent": {"name": "out_of_scope"}}})
    assert responses(run(action, answered)[0]) == [question]  # a typed answer that did not fit: asked again
    elsewhere = album_tracker("utter_ask_place", photos=2)
    assert responses(run(action, elsewhere)[0]) == [question]  # a new question is asked
    voice = album_tracker(question, photos=1)
    voice.latest_message["entities"] = [{"entity": "evidence_kind", "value": "voice"}]
    assert responses(run(action, voice)[0]) == [question]  # a voice note is answered with what comes next
