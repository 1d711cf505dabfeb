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

from actions.report import ActionCaptureComplaint, ActionShowSummary, ActionSubmitReport, ValidateReportForm
from actions.status import ActionCheckStatus, ValidateStatusForm
from satark import reports
from satark.db.models import Report
from satark.db.session import get_session_factory
from satark.settings import PROJECT_ROOT

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def make_tracker(slots=None, intent="out_of_scope", text="", entities=None, ranking=None,
                 sender="c0ffee") -> Tracker:
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update({"stage": "idle", **(slots or {})})
    message = {"intent": {"name": intent, "confidence": 0.9}, "text": text,
               "entities": entities or [], "intent_ranking": ranking or []}
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


@pytest.mark.parametrize("when, urgent", [("abhi", True), ("right now!", True), ("अभी हो रहा है", True),
                                          ("kal raat", False), ("every Sunday", False)])
def test_right_now_marks_the_report_urgent_and_repeats_112(when, urgent):
    messages, events = form_turn("incident_time", when, language="hi")
    assert slots_of(events)["urgent"] is urgent
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


def test_submit_during_a_database_outage_keeps_the_draft(runtime, monkeypatch):
    from tests.conftest import clear_caches

    monkeypatch.setenv("DATABASE_URL", "postgresql://satark@127.0.0.1:1/none")
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
