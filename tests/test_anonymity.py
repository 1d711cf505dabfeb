"""Identity never goes past the connector.

The end-to-end test runs a whole report through the real stack (sandbox Graph API, connector in
`rasa run` with DEBUG logging and the redacting SQL tracker store, action server with DEBUG
logging, database), with evidence in every container the connector accepts (JPEG and PNG with EXIF
GPS and owner, M4A, MP3 and MP4 with cover art and tags, an Ogg/Opus voice note with tags, a PDF
with document info) carrying the citizen's name, number, device and serial, then scans every file
the system wrote for the phone number in all common formats, the profile name, the metadata
values, the receipt code and the report number (the last two must not tie the conversation store
or the logs to the report).
"""

from __future__ import annotations

import base64
import io
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from channels.whatsapp import WhatsAppConfig
from sandbox import payloads
from sandbox.server import DEFAULTS
from satark import media
from satark.anonymity import AnonymizationKeyError, Anonymizer, check_key
from satark.db.models import EvidenceItem, Report
from satark.settings import EXAMPLE_SECRET
from tests.support import media_fixtures
from tests.support.servers import MODEL, ROOT, VENV_BIN, Stack, free_port

PHONE = "919876543210"
NAME = "Zorawar Pratapsinh"
PHONE_FORMATS = ["+91 98765 43210", "919876543210", "9876543210", "98765-43210", "98765 43210",
                 "+919876543210", "98765\u00a043210"]
KEY = "Qm4Tz8Xw2Lr6Vn9Kc3Hp7Jd5Bf1Gs0Ya-e2e"
RECEIPT_SECRET = "Hy6Wq2Zm9Rt4Lx7Nc3Vb8Kp5Jd1Fs0Ga-e2e"
# The sandbox's defaults are development values, refused outside development mode.
WHATSAPP = {**DEFAULTS, "WHATSAPP_APP_SECRET": "Ap7Xk2Nq9Wz4Lm6Rt3Vc8Hb5Jd1Gs0Fy",
            "WHATSAPP_VERIFY_TOKEN": "Vr3Lp8Zq5Xn2Wk7Mt4Hc9Bj6Fd1Gs0Ay"}
CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")


# -- the key and the pseudonyms -------------------------------------------------------------------

def test_sender_id_is_a_keyed_hash_of_the_whatsapp_id():
    anonymizer = Anonymizer(KEY.encode())
    sender = anonymizer.sender_id(wa_id=PHONE)
    assert re.fullmatch(r"[0-9a-f]{64}", sender)
    assert sender == anonymizer.sender_id(wa_id="+91 98765 43210")  # formatting does not matter
    assert sender != Anonymizer(b"another key of the same length......................").sender_id(wa_id=PHONE)
    assert sender != anonymizer.sender_id(wa_id="919876543211")
    assert anonymizer.sender_id(user_id="IN.1648738043044942") != anonymizer.sender_id(wa_id="1648738043044942")
    assert anonymizer.message_key("wamid.X") != anonymizer.sender_id(wa_id="wamid.X")
    assert KEY not in repr(anonymizer)
    with pytest.raises(ValueError):
        anonymizer.sender_id()


@pytest.mark.parametrize("value", [None, "", EXAMPLE_SECRET, "too-short"])
def test_outside_development_mode_a_proper_key_is_required(value):
    with pytest.raises(AnonymizationKeyError, match="ANONYMIZATION_KEY"):
        check_key(value, dev_mode=False)
    assert check_key(value, dev_mode=True) is None  # development mode generates one instead


def test_development_mode_generates_and_keeps_a_key(tmp_path, monkeypatch):
    from satark.anonymity import load_anonymizer
    from satark.settings import get_settings

    monkeypatch.setenv("SATARK_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SATARK_DEV_MODE", "1")
    monkeypatch.delenv("ANONYMIZATION_KEY", raising=False)
    get_settings.cache_clear()
    try:
        first, second = load_anonymizer(), load_anonymizer()
    finally:
        get_settings.cache_clear()
    assert first.sender_id(wa_id=PHONE) == second.sender_id(wa_id=PHONE)
    key_file = tmp_path / "secrets" / "anonymization_key"
    assert key_file.stat().st_mode & 0o077 == 0


def test_connector_refuses_the_example_key(monkeypatch):
    from satark.settings import get_settings

    monkeypatch.setenv("SATARK_DEV_MODE", "0")
    monkeypatch.setenv("RECEIPT_SECRET", RECEIPT_SECRET)
    monkeypatch.setenv("ANONYMIZATION_KEY", EXAMPLE_SECRET)
    get_settings.cache_clear()
    try:
        with pytest.raises(AnonymizationKeyError):
            WhatsAppConfig.from_credentials({"verify_token": "v", "app_secret": "s", "access_token": "t",
                                             "phone_number_id": "1"})
    finally:
        get_settings.cache_clear()


# -- the real stack -------------------------------------------------------------------------------

def require_model() -> None:
    assert MODEL.exists(), f"{MODEL} is missing: run `make train` first"


@pytest.mark.parametrize("key", [None, EXAMPLE_SECRET])
def test_rasa_server_refuses_to_start_without_a_proper_key(tmp_path, key):
    require_model()
    stack = Stack(tmp_path, env={"SATARK_DEV_MODE": "0", "RECEIPT_SECRET": RECEIPT_SECRET,
                                 "SATARK_VAR_DIR": str(tmp_path / "var"), **WHATSAPP,
                                 "WHATSAPP_API_URL": "http://127.0.0.1:9/v22.0"})
    environment = {k: v for k, v in stack.environment().items() if k != "ANONYMIZATION_KEY"}
    if key:
        environment["ANONYMIZATION_KEY"] = key
    (tmp_path / "credentials.yml").write_text((ROOT / "credentials.yml").read_text())
    result = subprocess.run(
        [str(VENV_BIN / "rasa"), "run", "--model", str(MODEL), "--port", str(free_port()), "-i", "127.0.0.1",
         "--credentials", str(tmp_path / "credentials.yml")],
        env=environment, capture_output=True, text=True, timeout=240)
    assert result.returncode != 0
    assert "ANONYMIZATION_KEY" in result.stdout + result.stderr


class Citizen:
    """Talks to the bot through the sandbox like a WhatsApp user: signed webhooks, taps buttons."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.graph = stack.services["sandbox"].url
        self.webhook = f"http://127.0.0.1:{stack.rasa_port}/webhooks/whatsapp/webhook"
        self.seen = 0
        self.history: list[dict] = []
        self.transcript: list[str] = []
        self.wamids: list[str] = []

    def _post(self, *messages: dict) -> None:
        payload = payloads.user_messages(WHATSAPP["WHATSAPP_PHONE_NUMBER_ID"], PHONE, NAME, list(messages))
        self.wamids += [m["id"] for m in payload["entry"][0]["changes"][0]["value"]["messages"]]
        body = payloads.encode(payload)
        response = requests.post(self.webhook, data=body, timeout=10, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": payloads.sign(body, WHATSAPP["WHATSAPP_APP_SECRET"])})
        assert response.status_code == 200

    def replies(self, timeout: float = 60.0) -> list[dict]:
        """The bot's messages since the last call, once it has stopped talking for a moment."""
        deadline, last_count, quiet_since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            sent = requests.get(f"{self.graph}/_chat/messages", params={"phone": PHONE}, timeout=10).json()
            if len(sent) != last_count:
                last_count, quiet_since = len(sent), time.monotonic()
            elif last_count > self.seen and time.monotonic() - quiet_since > 1.5:
                new = [item["message"] for item in sent[self.seen:]]
                self.seen = len(sent)
                self.history += new
                self.transcript += [json.dumps(m, ensure_ascii=False)[:300] for m in new]
                return new
            time.sleep(0.2)
        raise AssertionError("the bot did not answer:\n" + "\n".join(self.transcript[-10:]))

    def say(self, text: str) -> list[dict]:
        self.transcript.append(f"> {text}")
        self._post(payloads.text(text))
        return self.replies()

    def send(self, *messages: dict, label: str) -> list[dict]:
        self.transcript.append(f"> [{label}]")
        self._post(*messages)
        return self.replies()

    def tap_payload(self, payload: str) -> list[dict]:
        """Tap the newest button whose id carries `payload` (ids are `version.offer.index.payload.mac`)."""
        for message in reversed(self.history):
            interactive = message.get("interactive") or {}
            options = [b["reply"] for b in interactive.get("action", {}).get("buttons", [])]
            options += [r for s in interactive.get("action", {}).get("sections", []) for r in s["rows"]]
            for option in options:
                encoded = option["id"].split(".")[3]
                if base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == payload:
                    self.transcript.append(f"> tap {option['title']}")
                    kind = payloads.button_reply if interactive["type"] == "button" else payloads.list_reply
                    self._post(kind(option["id"], option["title"]))
                    return self.replies()
        raise AssertionError(f"no option {payload!r} offered:\n" + "\n".join(self.transcript[-6:]))

    def upload(self, data: bytes, mime_type: str) -> tuple[str, str]:
        reply = requests.post(f"{self.graph}/_sandbox/media", data=data, params={"mime_type": mime_type},
                              timeout=10).json()
        return reply["id"], reply["sha256"]


def texts_of(replies: list[dict]) -> list[str]:
    return [m["text"]["body"] if m["type"] == "text" else m["interactive"]["body"]["text"]
            for m in replies if m["type"] in ("text", "interactive")]


QUESTIONS = ("utter_ask_language", "utter_ask_description", "utter_category_guess", "utter_choose_category",
             "utter_ask_district", "utter_district_unknown", "utter_ask_place", "utter_ask_incident_time",
             "utter_ask_details", "utter_ask_evidence", "utter_summary")


def latest_question(citizen: Citizen) -> str | None:
    """The newest response the bot asked with, by name, from Rasa's conversation API."""
    sender = Anonymizer(KEY.encode()).sender_id(wa_id=PHONE)
    rasa = citizen.stack.services["rasa"].url
    events = requests.get(f"{rasa}/conversations/{sender}/tracker",
                          params={"token": citizen.stack.api_token}, timeout=30).json()["events"]
    names = [(e.get("metadata") or {}).get("utter_action") for e in events if e["event"] == "bot"]
    return next((name for name in reversed(names) if name in QUESTIONS), None)


def identifying_photo() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = f"{NAME} +91 98765 43210"
    exif.get_ifd(0x8825).update({1: "N", 2: (25.0, 18.0, 3.5), 3: "E", 4: (82.0, 58.0, 26.1)})
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def evidence_messages(citizen: Citizen, folder: Path) -> list[dict]:
    """A photo (JPEG), a screenshot (PNG), a voice note (Ogg/Opus), songs with cover art (M4A, MP3),
    a video with cover art (MP4) and a PDF, each carrying the citizen's identity in its metadata."""
    files = [("image", identifying_photo(), "image/jpeg", {"caption": "the shed"}),
             ("image", media_fixtures.photo("PNG"), "image/png", {}),
             ("audio", identifying_voice_note(folder), "audio/ogg", {"voice": True}),
             ("audio", *media_fixtures.av("m4a"), {}), ("audio", *media_fixtures.av("mp3"), {}),
             ("video", *media_fixtures.av("mp4"), {}),
             ("document", media_fixtures.pdf(), "application/pdf", {})]
    messages = []
    for kind, data, mime, options in files:
        assert any(needle.encode() in data for needle in (NAME, "98765", "9876543210")), mime
        media_id, sha = citizen.upload(data, mime)
        messages.append(payloads.media(kind, media_id, mime, sha, **options))
    return messages


def identifying_voice_note(folder: Path) -> bytes:
    path = folder / "note.ogg"
    subprocess.run([media.find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1",
                    "-c:a", "libopus", "-metadata", f"artist={NAME}", "-metadata", "comment=9876543210",
                    str(path)], check=True)
    return path.read_bytes()


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    """One full report through the real stack; yields (system folder, stack, receipt code)."""
    require_model()
    root = tmp_path_factory.mktemp("anonymity")
    system = root / "system"
    system.mkdir()
    stack = Stack(root / "stack", env={
        "SATARK_DEV_MODE": "0", "ANONYMIZATION_KEY": KEY, "RECEIPT_SECRET": RECEIPT_SECRET,
        "SATARK_VAR_DIR": str(system / "var"), "DATABASE_URL": f"sqlite:///{system / 'satark.db'}",
        "LOG_LEVEL": "DEBUG", **WHATSAPP,
    })
    try:
        stack.prepare_database()
        stack.start_action_server(debug=True)
        stack.start_sandbox()
        stack.start_rasa(debug=True, tracker_store={"type": "satark.tracker_store.RedactingSQLTrackerStore",
                                                    "dialect": "sqlite", "db": str(system / "tracker.db")},
                         credentials=yaml_credentials())
        citizen = Citizen(stack)
        code = report_a_crime(citizen, root)
        status = "\n".join(texts_of(citizen.say(f"status {code.lower()}")))
        yield system, stack, code, citizen, status
    finally:
        stack.stop()


def yaml_credentials() -> dict:
    return {"channels.whatsapp.WhatsAppInput": {
        "verify_token": "${WHATSAPP_VERIFY_TOKEN}", "app_secret": "${WHATSAPP_APP_SECRET}",
        "access_token": "${WHATSAPP_ACCESS_TOKEN}", "phone_number_id": "${WHATSAPP_PHONE_NUMBER_ID}",
        "api_url": "${WHATSAPP_API_URL}", "retry_backoff_seconds": 0.05}}


def report_a_crime(citizen: Citizen, folder: Path) -> str:
    """Answer the bot's questions (recognised by response name) until a receipt code."""
    replies = citizen.say("Hello")
    evidence_sent = False
    for _ in range(25):
        found = CODE.search("\n".join(texts_of(replies)))
        if found:
            return found.group(0)
        question = latest_question(citizen)
        if question == "utter_ask_language":
            replies = citizen.tap_payload("/language_english")
        elif question == "utter_ask_description":
            replies = citizen.say("Illegal liquor is sold every night from a shed behind the school.")
        elif question == "utter_category_guess":
            replies = citizen.tap_payload("/affirm")
        elif question == "utter_choose_category":
            replies = citizen.tap_payload('/choose_category{"category":"illegal_liquor"}')
        elif question in ("utter_ask_district", "utter_district_unknown"):
            replies = citizen.say("Varanasi")
        elif question == "utter_ask_place":
            replies = citizen.send(payloads.location(25.2761, 83.0037, "Lanka", "near BHU gate"), label="pin")
        elif question == "utter_ask_incident_time":
            replies = citizen.say("every night around 10 pm")
        elif question == "utter_ask_details":
            replies = citizen.say("Two men with a white van bring the cartons.")
        elif evidence_sent and question == "utter_ask_evidence":
            replies = citizen.tap_payload("skip")
        elif question == "utter_ask_evidence":
            replies = citizen.send(*evidence_messages(citizen, folder), label="evidence in every container")
            evidence_sent = True
        elif question == "utter_summary":
            replies = citizen.tap_payload("/affirm")
        else:
            raise AssertionError(f"unexpected question {question}:\n" + "\n".join(citizen.transcript[-8:]))
    raise AssertionError("no receipt code after 25 turns:\n" + "\n".join(citizen.transcript))


def test_the_report_with_its_evidence_is_stored(conversation):
    system, _, code, _, status = conversation
    engine = create_engine(f"sqlite:///{system / 'satark.db'}", future=True)
    with Session(engine) as session:
        [report] = session.execute(select(Report)).scalars().all()
        items = session.execute(select(EvidenceItem)).scalars().all()
    assert report.category == "illegal_liquor" and report.district_code == "VNS"
    assert sorted(item.mime_type for item in items) == sorted([
        "image/jpeg", "image/png", "audio/ogg", "audio/mp4", "audio/mpeg", "video/mp4", "application/pdf"])
    assert all(item.report_id == report.id and item.metadata_stripped for item in items)
    assert all((system / "var" / "media" / item.stored_name).exists() for item in items)
    assert code and report.public_number in status  # the code opened the report


def test_rest_channel_and_api_are_closed_outside_development_mode(conversation):
    _, stack, _, _, _ = conversation
    rasa = stack.services["rasa"].url
    rest = requests.post(f"{rasa}/webhooks/rest/webhook", json={"sender": "x", "message": "/affirm"}, timeout=10)
    assert rest.status_code == 404
    assert requests.get(f"{rasa}/conversations/x/tracker", timeout=10).status_code in (401, 403)
    assert requests.get(f"{rasa}/status", params={"token": stack.api_token}, timeout=10).status_code == 200


def test_no_file_the_system_wrote_contains_the_number_or_the_name(conversation):
    system, stack, _, citizen, _ = conversation
    stack.stop()  # flush and close every log and database file before reading them
    files = [p for p in [*system.rglob("*"), *stack.logs.rglob("*")] if p.is_file()]
    names = {p.name for p in files}
    assert {"satark.db", "tracker.db", "rasa.log", "rasa.out", "actions.out"} <= names
    assert any(p.parent.name == "media" for p in files)
    needles = [*PHONE_FORMATS, NAME, *NAME.split(), *citizen.wamids, media_fixtures.DEVICE, media_fixtures.SERIAL]
    hits = []
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            for encoding in ("utf-8", "utf-16-le"):
                if needle.encode(encoding) in data:
                    hits.append(f"{path.name}: {needle!r} ({encoding})")
    assert hits == []
    debug_log = (stack.logs / "rasa.log").read_text(errors="replace")
    assert "DEBUG" in debug_log and "whatsapp" in debug_log  # the scan covered real debug output


def test_nothing_written_ties_the_conversation_to_the_report(conversation):
    """The receipt code and the report number reach the citizen, never the tracker store or a log;
    the draft key (which derives the code) is gone from the tracker once the report is stored."""
    system, stack, code, _, _ = conversation
    stack.stop()
    engine = create_engine(f"sqlite:///{system / 'satark.db'}", future=True)
    with Session(engine) as session:
        number = session.execute(select(Report.public_number)).scalar_one()
    conversation_and_logs = [system / "tracker.db", stack.logs / "rasa.log", stack.logs / "rasa.out",
                             stack.logs / "actions.out"]
    for path in [*conversation_and_logs, *system.glob("satark.db*")]:
        data = path.read_bytes()
        absent = [code, code.replace("-", ""), code.lower()] + ([number] if path in conversation_and_logs else [])
        for needle in absent:
            assert needle.encode() not in data, f"{needle} in {path.name}"
    for log in conversation_and_logs[1:]:
        assert not re.search(r"draft_id\W{1,20}[0-9a-f]{32}", log.read_text(errors="replace")), log.name
    with sqlite3.connect(system / "tracker.db") as connection:
        rows = [json.loads(data) for (data,) in connection.execute("SELECT data FROM events")]
    draft_ids = [event.get("value") for event in rows if event.get("event") == "slot" and event["name"] == "draft_id"]
    assert draft_ids and set(draft_ids) <= {None, "[redacted]"}
    assert "DEBUG" in (stack.logs / "actions.out").read_text(errors="replace")
