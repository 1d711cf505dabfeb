"""The sandbox: Graph API stand-in rules, the tester's chat page driving the real connector, the
`python -m sandbox` entry point, and the district QR posters."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
import segno

from sandbox.server import check_message
from satark.offices import load_offices
from satark.posters import chat_link, display_number, write_posters
from tests.support import media_fixtures
from tests.support.connector import ConnectorHarness
from tests.support.servers import ROOT, Stack


def chat(harness: ConnectorHarness, **message) -> None:
    reply = requests.post(f"{harness.graph}/_chat/send", timeout=10,
                          json={"phone": "+91 99999 00001", "name": "Tester", **message}).json()
    assert reply["webhook_status"] == 200
    harness.settle()


def bot_messages(harness: ConnectorHarness) -> list[dict]:
    return requests.get(f"{harness.graph}/_chat/messages", params={"phone": "+91 99999 00001"},
                        timeout=10).json()


def test_chat_page_is_served(harness):
    page = requests.get(f"{harness.graph}/", timeout=10)
    assert page.status_code == 200
    assert "Satark Mitra" in page.text and "_chat/send" in page.text


def test_chat_page_checks_the_connector_with_the_handshake(harness):
    status = requests.get(f"{harness.graph}/_chat/status", timeout=10).json()
    assert status == {"webhook": f"{harness.base}/webhook", "verified": True}


def test_tester_chats_through_the_real_connector_and_taps_buttons(harness):
    chat(harness, kind="text", text="menu 2")
    [item] = bot_messages(harness)
    buttons = item["message"]["interactive"]["action"]["buttons"]
    chat(harness, kind="button", id=buttons[1]["reply"]["id"], title=buttons[1]["reply"]["title"])
    assert harness.received_from("919999900001")[-1].text == '/choose_category{"category":"c1"}'
    chat(harness, kind="text", text="menu 12")
    lists = [i["message"] for i in bot_messages(harness) if i["message"]["type"] == "interactive"][-2:]
    row = lists[0]["interactive"]["action"]["sections"][0]["rows"][4]
    chat(harness, kind="list", id=row["id"], title=row["title"], description=row.get("description", ""))
    assert harness.received_from("919999900001")[-1].text == '/choose_category{"category":"c4"}'


def test_tester_can_attach_a_file_with_a_caption(harness):
    files = {"file": ("notes.pdf", media_fixtures.pdf(), "application/pdf")}
    reply = requests.post(f"{harness.graph}/_chat/upload", files=files, timeout=10,
                          data={"phone": "+91 99999 00002", "name": "Tester", "caption": "rate list"}).json()
    assert reply == {"webhook_status": 200, "kind": "document"}
    harness.settle()
    [text] = [m.text for m in harness.received_from("919999900002")]
    assert text.startswith("/share_evidence") and '"caption": "rate list"' in text


@pytest.mark.parametrize(("kind", "answers"), [
    ("location", 1), ("sticker", 1), ("contacts", 1), ("reaction", 0), ("unsupported", 1)])
def test_other_message_kinds_from_the_page(harness, kind, answers):
    extra = {"latitude": 25.3, "longitude": 83.0, "name": "Ghat"} if kind == "location" else {}
    before = len(bot_messages(harness))
    chat(harness, kind=kind, **extra)
    assert len(bot_messages(harness)) == before + answers  # a reaction is ignored quietly


@pytest.mark.parametrize(("message", "problem"), [
    ({"type": "text", "text": {"body": "x" * 4097}}, "4096"),
    ({"type": "interactive", "interactive": {"type": "button", "body": {"text": "b"}, "action": {
        "buttons": [{"type": "reply", "reply": {"id": str(i), "title": str(i)}} for i in range(4)]}}}, "1 to 3"),
    ({"type": "interactive", "interactive": {"type": "button", "body": {"text": "b"}, "action": {
        "buttons": [{"type": "reply", "reply": {"id": "1", "title": "x" * 21}}]}}}, "20"),
    ({"type": "interactive", "interactive": {"type": "list", "body": {"text": "b"}, "action": {
        "button": "Choose", "sections": [{"rows": [{"id": str(i), "title": "t"} for i in range(11)]}]}}}, "10 rows"),
    ({"type": "interactive", "interactive": {"type": "list", "body": {"text": "b"}, "action": {
        "button": "Choose", "sections": [{"rows": [{"id": "1", "title": "x" * 25}]}]}}}, "24"),
    ({"type": "interactive", "interactive": {"type": "button", "body": {"text": "b" * 1025}, "action": {
        "buttons": [{"type": "reply", "reply": {"id": "1", "title": "t"}}]}}}, "1024"),
])
def test_stand_in_refuses_what_meta_refuses(message, problem):
    assert problem in check_message({"messaging_product": "whatsapp", "to": "919800000000", **message})


def test_stand_in_accepts_templates_and_records_them(harness):
    harness.reset_graph()
    template = {"messaging_product": "whatsapp", "to": "919800000000", "type": "template",
                "template": {"name": "status_update", "language": {"code": "hi"}}}
    response = requests.post(f"{harness.graph}/v22.0/106540352242922/messages", json=template, timeout=10,
                             headers={"Authorization": "Bearer test-access-token"})
    assert response.status_code == 200 and response.json()["messages"][0]["id"].startswith("wamid.")
    assert harness.sent() == [template]


def test_entry_point_prints_settings_and_serves(tmp_path):
    env = subprocess.run([sys.executable, "-m", "sandbox", "env", "--port", "5999"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "export WHATSAPP_API_URL=http://127.0.0.1:5999/v22.0" in env
    assert "export WHATSAPP_APP_SECRET=" in env
    stack = Stack(tmp_path)
    try:
        sandbox = stack.start_sandbox("http://127.0.0.1:9/webhooks/whatsapp/webhook")
        assert "Satark Mitra" in requests.get(sandbox.url, timeout=10).text
    finally:
        stack.stop()


def test_a_poster_per_district_with_the_chat_link(tmp_path):
    directory = load_offices()
    paths = write_posters(tmp_path, "91 94544 00000", directory)
    assert len(paths) == len(directory.districts) + 1
    link = "https://wa.me/919454400000?text=%E0%A4%A8%E0%A4%AE%E0%A4%B8%E0%A5%8D%E0%A4%A4%E0%A5%87"
    assert chat_link("+91 94544 00000") == link
    qr = segno.make(link, error="q").svg_inline(border=4, omitsize=True)
    for district, path in zip(directory.districts, paths, strict=False):
        page = path.read_text(encoding="utf-8")
        assert district.label("hi") in page and district.label("en") in page
        assert qr in page and "+91 94544 00000" in page and "112" in page
    assert all(p.name in paths[-1].read_text(encoding="utf-8") for p in paths[:-1])


def test_poster_number_format():
    assert display_number("919454400000") == "+91 94544 00000"
    assert display_number("15550783881") == "+15550783881"
    with pytest.raises(ValueError):
        chat_link("112")
