"""End to end through the real Rasa server and action server on the REST channel, in both languages.

Conversations are steered by the names of the responses the bot uttered (read from the tracker
through Rasa's HTTP API) and by button payloads, not by the wording of the prompts.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from satark.db.models import Report
from tests.support.servers import Stack, children

CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")
ASKS = ("utter_ask_language", "utter_ask_description", "utter_category_guess", "utter_choose_category",
        "utter_ask_district", "utter_ask_place", "utter_ask_incident_time", "utter_ask_details",
        "utter_ask_evidence", "utter_summary")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e-rest")
    database_url = f"sqlite:///{workdir / 'satark.db'}"
    stack = Stack(workdir, env={"DATABASE_URL": database_url, "SATARK_VAR_DIR": str(workdir / "var"),
                                   "SATARK_DEV_MODE": "true"})
    stack.prepare_database()
    try:
        stack.start_action_server()
        stack.start_rasa(tracker_store={"type": "SQL", "dialect": "sqlite", "db": str(workdir / "tracker.db")})
        yield stack, database_url
    finally:
        stack.stop()


class Chat:
    """One citizen on the REST channel; `turns` counts what the citizen sent."""

    def __init__(self, url: str, api_token: str):
        self.base = url
        self.api_token = api_token
        self.sender = uuid.uuid4().hex
        self.turns = 0
        self.last: list[dict] = []

    def say(self, text: str) -> list[str]:
        """Send a message; the names of the responses the bot answered with, in order."""
        response = requests.post(f"{self.base}/webhooks/rest/webhook",
                                 json={"sender": self.sender, "message": text}, timeout=60)
        response.raise_for_status()
        self.turns += 1
        events = self.tracker().json()["events"]
        last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
        self.last = [e for e in events[last_user:] if e["event"] == "bot"]
        return [(e.get("metadata") or {}).get("utter_action") for e in self.last]

    def tracker(self) -> requests.Response:
        """The conversation from Rasa's HTTP API (on in these tests, with a token)."""
        return requests.get(f"{self.base}/conversations/{self.sender}/tracker",
                            params={"token": self.api_token}, timeout=30)

    @property
    def text(self) -> str:
        return "\n".join(e.get("text") or "" for e in self.last)

    def payloads(self) -> list[str]:
        return [b["payload"] for e in self.last for b in (e.get("data") or {}).get("buttons") or []]

    def value(self, key: str) -> str:
        """A value the last response was filled with (report number, receipt code, summary fields)."""
        return next((e.get("metadata") or {})[key] for e in self.last if key in (e.get("metadata") or {}))

    def slots(self) -> dict:
        return self.tracker().json()["slots"]


def asked(names: list[str]) -> str | None:
    """The question the bot ended its answer with."""
    return next((name for name in reversed(names) if name in ASKS), None)


def stored_report(database_url: str, public_number: str) -> Report:
    engine = create_engine(database_url, future=True)
    with engine.connect() as connection:
        rows = connection.execute(select(Report).where(Report.public_number == public_number)).all()
    engine.dispose()
    assert len(rows) == 1
    return rows[0]


def finish(chat: Chat, names: list[str], answers: dict[str, str]) -> tuple[str, str]:
    """Answer each question from `answers` until the receipt; (report number, receipt code)."""
    for _ in range(15):
        if "utter_report_submitted" in names:
            return chat.value("public_number"), chat.value("receipt_code")
        question = asked(names)
        assert question in answers, f"unexpected question {question} after {names}"
        names = chat.say(answers[question])
    raise AssertionError("no receipt")


def test_the_api_token_is_required_and_never_in_the_process_list(stack):
    """`satark.rasa_server` takes RASA_API_TOKEN from the environment: `ps` shows no token."""
    rasa, _ = stack
    service = rasa.services["rasa"]
    url = f"{service.url}/conversations/{uuid.uuid4().hex}/tracker"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, params={"token": rasa.api_token}, timeout=30).status_code == 200
    for pid in [service.process.pid, *children(service.process.pid)]:  # with any Sanic workers
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert "satark.rasa_server" in command_line and rasa.api_token not in command_line


def test_english_report_from_hi_to_receipt_then_status(stack):
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    names = chat.say("Hi")
    assert names == ["utter_welcome", "utter_ask_language"]
    assert {"/language_hindi", "/language_english"} <= set(chat.payloads())
    assert "112" in chat.text and "never shared" in chat.text
    assert asked(chat.say("/language_english")) == "utter_ask_description"
    assert asked(chat.say("Every night a truck full of cows is taken from our village towards the Bihar border")
                 ) == "utter_category_guess"
    public_number, code = finish(chat, chat.say("/affirm"), {
        "utter_ask_district": "gazipur", "utter_ask_place": "Near the Zamania railway crossing",
        "utter_ask_incident_time": "around 2 am", "utter_ask_details": "A white truck, three men",
        "utter_ask_evidence": "skip", "utter_summary": "/affirm"})
    report = stored_report(database_url, public_number)
    assert (report.category, report.district_code, report.language) == ("cattle_smuggling", "GZP", "en")
    assert report.urgent is False and "Zamania" in report.place

    names = chat.say(f"status {code}")
    assert names == ["utter_status"] and public_number in chat.text


def test_cancel_asks_first_and_a_kept_draft_is_sent_once(stack):
    """"skip it" at the summary reads as cancel: the draft is only discarded after a clear yes."""
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    chat.say("/language_english")
    chat.say("Every night a truck full of cows is taken from our village towards the Bihar border")
    names = chat.say("/affirm")
    for _ in range(10):
        if asked(names) == "utter_summary":
            break
        names = chat.say({"utter_ask_district": "gazipur", "utter_ask_place": "Zamania railway crossing",
                          "utter_ask_incident_time": "around 2 am", "utter_ask_details": "A white truck",
                          "utter_ask_evidence": "skip"}[asked(names)])
    assert chat.say("skip it") == ["utter_ask_discard_draft"]
    assert {"/affirm", "/deny"} == set(chat.payloads())
    names = chat.say("no, keep it")
    assert names[0] == "utter_draft_kept" and asked(names) == "utter_summary"
    assert chat.slots()["description"] and chat.slots()["discard_draft"] is None
    public_number, _ = finish(chat, chat.say("/affirm"), {})
    assert stored_report(database_url, public_number).district_code == "GZP"

    chat.say("Someone sells illegal liquor near the school in our village")
    assert chat.say("cancel") == ["utter_ask_discard_draft"]
    assert chat.say("/affirm") == ["utter_report_cancelled"]
    assert chat.slots()["description"] is None and chat.slots()["stage"] == "idle"


def test_nothing_to_change_at_the_summary_offers_to_send_it(stack):
    """"कुछ नहीं" (nothing) answering "भेज दें?" reads as no: the change menu comes, and it lets the
    citizen send the report unchanged instead of forcing a field or a cancel."""
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    chat.say("/language_hindi")
    names = chat.say("हमारे गाँव में हर रात अवैध शराब बेची जाती है")
    assert asked(names) == "utter_category_guess"
    names = chat.say("/affirm")
    for _ in range(10):
        if asked(names) == "utter_summary":
            break
        assert asked(names), (names, chat.text)
        names = chat.say({"utter_ask_district": "गाज़ीपुर", "utter_ask_place": "ज़मानिया रेलवे फाटक",
                          "utter_ask_incident_time": "हर रात", "utter_ask_details": "दो आदमी सफ़ेद गाड़ी से आते हैं",
                          "utter_ask_evidence": "छोड़ें"}[asked(names)])
    assert chat.say("कुछ नहीं") == ["utter_ask_change_field"]
    assert "/affirm" in chat.payloads() and "कुछ नहीं, भेजें" in str(chat.last[0]["data"]["buttons"])
    public_number, _ = finish(chat, chat.say("/affirm"), {})
    assert stored_report(database_url, public_number).language == "hi"


def test_hindi_greeting_infers_the_language_and_an_urgent_report_is_marked(stack):
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    names = chat.say("नमस्ते")
    assert names == ["utter_welcome", "utter_ask_description"] and "गुमनाम" in chat.text
    assert asked(chat.say("हमारे गाँव में कच्ची शराब बनाई और बेची जाती है")) == "utter_category_guess"
    public_number, code = finish(chat, chat.say("/affirm"), {
        "utter_ask_district": "चन्दौली", "utter_ask_place": "सकलडीहा थाना क्षेत्र, नहर के पास",
        "utter_ask_incident_time": "अभी", "utter_ask_details": "दो लोग भट्ठी चला रहे हैं",
        "utter_ask_evidence": "छोड़ें", "utter_summary": "/affirm"})
    report = stored_report(database_url, public_number)
    assert (report.category, report.district_code, report.language, report.urgent) == (
        "illegal_liquor", "CDL", "hi", True)
    assert chat.say("स्थिति 2345") == ["utter_ask_receipt_code"]
    assert chat.say("2345") == ["utter_code_format_hint", "utter_ask_receipt_code"]  # a hint, no try used
    assert chat.say(code)[0] == "utter_status" and public_number in chat.text


COMPLAINTS = [
    ("Sir Ghazipur ke Saidpur thana ke Rampur gaon me kal raat se roj kachi sharab bik rahi hai",
     "hi", "kal raat, roj", "Rampur gaon"),
    ("गाज़ीपुर के सैदपुर थाना क्षेत्र के ग्राम रामपुर में पिछले सोमवार से हर शाम कच्ची शराब बिक रही है",
     "hi", "पिछले सोमवार, हर शाम", "ग्राम रामपुर"),
    ("Every evening illegal liquor is sold in Rampur village near Saidpur police station, Ghazipur",
     "en", "Every evening", "Rampur village"),
]


@pytest.mark.parametrize("complaint, language, when, village", COMPLAINTS, ids=["romanized", "devanagari", "english"])
def test_a_complaint_that_says_everything_reaches_the_receipt_in_six_turns(stack, complaint, language, when, village):
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    names = chat.say(complaint)
    assert names[0] == "utter_welcome" and asked(names) == "utter_category_guess"
    public_number, _ = finish(chat, chat.say("/affirm"), {
        "utter_ask_details": "do log motorcycle se aate hain" if language == "hi" else "two men on a motorbike",
        "utter_ask_evidence": "skip", "utter_summary": "/affirm"})
    assert chat.turns <= 6
    report = stored_report(database_url, public_number)
    assert (report.category, report.district_code, report.language) == ("illegal_liquor", "GZP", language)
    assert report.incident_time == when and village in report.place and ("Saidpur" in report.place
                                                                          or "सैदपुर" in report.place)
    assert report.description == complaint


def test_a_returning_reporter_checks_status_in_the_middle_of_a_new_draft_which_is_kept(stack):
    stack, database_url = stack
    first = Chat(stack.services["rasa"].url, stack.api_token)
    first.say("Hi")
    first.say("/language_english")
    first.say("Men sell ganja near the school gate every afternoon")
    _, code = finish(first, first.say("/affirm"), {
        "utter_ask_district": "Jaunpur", "utter_ask_place": "Kerakat bus stand",
        "utter_ask_incident_time": "every afternoon", "utter_ask_details": "two boys on a scooter",
        "utter_ask_evidence": "skip", "utter_summary": "/affirm"})

    chat = first
    assert asked(chat.say("Hi")) == "utter_ask_description"
    assert chat.say(f"status {code}")[0] == "utter_status"  # after Hi, not the category list
    assert asked(chat.say("Gambling den behind the temple, satta every night")) == "utter_category_guess"
    assert asked(chat.say("/affirm")) == "utter_ask_district"
    assert asked(chat.say("Varanasi")) == "utter_ask_place"
    names = chat.say(f"status {code}")
    assert names[0] == "utter_status" and asked(names) == "utter_ask_place"  # the draft goes on
    names = chat.say(f"add info {code}")
    assert asked(names) is None and "utter_ask_followup_text" in names
    names = chat.say("The same boys came back today")
    assert names[0] == "utter_followup_saved" and asked(names) == "utter_ask_place"
    public_number, _ = finish(chat, chat.say("Lanka, behind the temple"), {
        "utter_ask_incident_time": "every night", "utter_ask_details": "about ten people",
        "utter_ask_evidence": "skip", "utter_summary": "/affirm"})
    report = stored_report(database_url, public_number)
    assert (report.category, report.district_code, report.place) == ("gambling", "VNS", "Lanka, behind the temple")


def test_an_emergency_in_the_first_message_gets_112_at_once_and_the_report_is_urgent(stack):
    stack, _ = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    names = chat.say("abhi goli chal rahi hai")
    assert names[:2] == ["utter_welcome", "utter_urgent"] and "112" in chat.text
    assert chat.slots()["urgent"] is True and chat.slots()["language"] == "hi"


def test_a_greeting_at_a_form_question_is_not_taken_as_the_answer(stack):
    stack, _ = stack
    chat = Chat(stack.services["rasa"].url, stack.api_token)
    chat.say("Hi")
    chat.say("/language_english")
    chat.say("Illegal sand mining from the river with tractors")
    chat.say("/affirm")
    assert asked(chat.say("Chandauli")) == "utter_ask_place"
    assert asked(chat.say("Hi")) == "utter_ask_place"
    assert asked(chat.say("नमस्ते")) == "utter_ask_place"
    assert chat.slots()["place"] is None
    assert asked(chat.say("Dhanapur ghat")) == "utter_ask_incident_time"
