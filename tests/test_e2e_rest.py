"""End to end through the real Rasa server and action server on the REST channel, in both languages."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from sqlalchemy import create_engine, select

from satark.db.models import Report
from tests.support.servers import Stack

CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")


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
    def __init__(self, url: str):
        self.url = url + "/webhooks/rest/webhook"
        self.sender = uuid.uuid4().hex

    def say(self, text: str) -> list[dict]:
        response = requests.post(self.url, json={"sender": self.sender, "message": text}, timeout=60)
        response.raise_for_status()
        return response.json()

    def text(self, message: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(message))


def payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


def stored_report(database_url: str, public_number: str) -> Report:
    engine = create_engine(database_url, future=True)
    with engine.connect() as connection:
        rows = connection.execute(select(Report).where(Report.public_number == public_number)).all()
    engine.dispose()
    assert len(rows) == 1
    return rows[0]


def test_english_report_from_hi_to_receipt_then_status(stack):
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url)
    welcome = chat.say("Hi")
    assert {"/language_hindi", "/language_english"} <= set(payloads(welcome))
    assert "112" in welcome[0]["text"] and "never shared" in welcome[0]["text"]
    assert "own words" in chat.text("/language_english")
    guess = chat.text("Every night a truck full of cows is taken from our village towards the Bihar border")
    assert "Cattle smuggling" in guess
    assert "district" in chat.text("/affirm").lower()
    assert "Where" in chat.text("gazipur")
    assert "When" in chat.text("Near the Zamania railway crossing")
    assert "who is involved" in chat.text("every night around 2 am")
    assert "evidence" in chat.text("A white truck without a number plate, three men").lower()
    summary = chat.text("skip")
    assert "Ghazipur" in summary and "Zamania" in summary and "Cattle smuggling" in summary
    receipt = chat.text("/affirm")
    public_number = re.search(r"Report number: (\S+)", receipt).group(1)
    code = CODE.search(receipt).group(0)

    report = stored_report(database_url, public_number)
    assert (report.category, report.district_code, report.language) == ("cattle_smuggling", "GZP", "en")
    assert report.urgent is False

    status = chat.text(f"status {code}")
    assert public_number in status and "Received" in status


def test_hindi_urgent_report_and_status_check(stack):
    stack, database_url = stack
    chat = Chat(stack.services["rasa"].url)
    assert "/language_hindi" in payloads(chat.say("नमस्ते"))
    assert "अपने शब्दों" in chat.text("/language_hindi")
    assert "अवैध शराब" in chat.text("हमारे गाँव में रात को कच्ची शराब बनाई और बेची जाती है")
    assert "ज़िले" in chat.text("/affirm")
    assert "कहाँ" in chat.text("चन्दौली")
    assert "कब" in chat.text("सकलडीहा थाना क्षेत्र, नहर के पास")
    urgent = chat.text("अभी")
    assert "112" in urgent
    assert "सबूत" in chat.text("दो लोग भट्ठी चला रहे हैं")
    summary = chat.text("छोड़ें")
    assert "चंदौली" in summary and "ज़रूरी" in summary
    receipt = chat.text("/affirm")
    public_number = re.search(r"सूचना संख्या: (\S+)", receipt).group(1)
    code = CODE.search(receipt).group(0)

    report = stored_report(database_url, public_number)
    assert (report.category, report.district_code, report.language, report.urgent) == (
        "illegal_liquor", "CDL", "hi", True)

    assert "मेल नहीं" in chat.text("स्थिति ZZZZ-ZZZZ-ZZZZ")
    status = chat.text(code)
    assert public_number in status and "प्राप्त" in status
