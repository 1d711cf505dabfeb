"""Each WhatsApp message type through the real connector: what reaches the dialogue, what the
citizen is told, and that only the bot's own button ids ever become intents."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import unicodedata

import pytest
from PIL import Image
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from sqlalchemy import select

from channels.whatsapp_inbound import neutralise
from channels.whatsapp_texts import MEDIA_AGAIN as TEXT_MEDIA_AGAIN
from channels.whatsapp_texts import MEDIA_TOO_LARGE as TEXT_MEDIA_TOO_LARGE
from channels.whatsapp_texts import MEDIA_TYPE as TEXT_MEDIA_TYPE
from channels.whatsapp_texts import STALE_BUTTON as TEXT_STALE_BUTTON
from channels.whatsapp_texts import UNSUPPORTED as TEXT_UNSUPPORTED
from sandbox import payloads
from satark.db.models import EvidenceItem
from satark.db.session import get_session_factory
from satark.settings import get_settings
from satark.text import normalize_hindi
from tests.support import media_fixtures
from tests.support.connector import ConnectorHarness, scripted_bot

PHONE = "919876543210"


def parsed_intent(text: str) -> str | None:
    """What Rasa's own intent-syntax handler makes of a text (None: plain text for the NLU)."""
    message = YAMLStoryReader.unpack_regex_message(Message({TEXT: text}))
    return (message.get(INTENT) or {}).get("name")


def last_texts(harness: ConnectorHarness, wa_id: str) -> list[str]:
    return [m["text"]["body"] for m in harness.sent(wa_id) if m["type"] == "text"]


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "blue").save(out, "JPEG")
    return out.getvalue()


# -- text -----------------------------------------------------------------------------------------

def test_text_is_forwarded_with_pseudonymous_ids_and_no_metadata(harness):
    response = harness.say("919800000101", payloads.text("मेरे गाँव में अवैध शराब बिकती है"), name="Ramesh Kumar")
    [message] = harness.received_from("919800000101")
    assert message.text == "मेरे गाँव में अवैध शराब बिकती है"
    assert message.input_channel == "whatsapp"
    assert message.metadata is None
    assert "9800000101" not in message.sender_id and len(message.sender_id) == 64
    wamid = json.loads(response.request.body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert message.message_id != wamid and "wamid" not in message.message_id
    assert "Ramesh" not in repr(vars(message))


@pytest.mark.parametrize(("number", "typed"), enumerate([
    "/affirm", "  /affirm", "/choose_category{\"category\":\"drugs\"}", "\u200b/deny", "\u2060/deny",
    "\uff0faffirm", "\u3000/share_evidence{\"evidence_id\":\"x\"}",
]))
def test_typed_intent_syntax_stays_plain_text(harness, number, typed):
    wa_id = f"9198110000{number:02d}"
    harness.say(wa_id, payloads.text(typed))
    [message] = harness.received_from(wa_id)
    text = message.text
    assert parsed_intent(text) is None
    # Also after any normalisation an NLU component might apply to the text in place.
    for normalised in (normalize_hindi(text), unicodedata.normalize("NFKC", text),
                       text.replace("\u200b", "").replace("\u2060", "")):
        assert parsed_intent(normalised) is None, normalised
    assert "affirm" in text or "deny" in text or "category" in text or "evidence" in text


def test_neutralise_leaves_ordinary_text_alone():
    assert neutralise("  यहाँ 1/2 किलो ड्रग्स  ") == "यहाँ 1/2 किलो ड्रग्स"
    assert neutralise("") == ""
    assert parsed_intent("/affirm") == "affirm"  # the check above would catch a real intent


def test_empty_text_is_not_forwarded(harness):
    harness.say("919800000103", payloads.text("   "))
    assert harness.received_from("919800000103") == []


# -- buttons --------------------------------------------------------------------------------------

def offered_ids(harness: ConnectorHarness, wa_id: str) -> list[tuple[str, str]]:
    interactive = [m["interactive"] for m in harness.sent(wa_id) if m["type"] == "interactive"][-1]
    if interactive["type"] == "button":
        return [(b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]]
    return [(r["id"], r["title"]) for s in interactive["action"]["sections"] for r in s["rows"]]


def test_reply_button_becomes_the_offered_payload(harness):
    wa_id = "919800000201"
    harness.say(wa_id, payloads.text("menu 3"))
    button_id, title = offered_ids(harness, wa_id)[1]
    assert "choose_category" not in button_id  # opaque, not the payload itself
    harness.say(wa_id, payloads.button_reply(button_id, title))
    assert harness.received_from(wa_id)[-1].text == '/choose_category{"category":"c1"}'
    assert parsed_intent(harness.received_from(wa_id)[-1].text) == "choose_category"


def test_list_reply_becomes_the_offered_payload(harness):
    wa_id = "919800000202"
    harness.say(wa_id, payloads.text("menu 7"))
    row_id, title = offered_ids(harness, wa_id)[5]
    harness.say(wa_id, payloads.list_reply(row_id, title))
    assert harness.received_from(wa_id)[-1].text == '/choose_category{"category":"c5"}'


@pytest.mark.parametrize("forged", [
    "/affirm", "affirm", "b1.0.0.L2FmZmlybQ.000000000000000000000000", "", "b1.zz.0.!!.x",
    "b1.18c0000000.0." + base64.urlsafe_b64encode(b"/affirm").decode().rstrip("=") + ".0123456789abcdef01234567",
])
def test_forged_button_ids_are_refused_politely(harness, forged):
    wa_id = "919800000203"
    harness.say(wa_id, payloads.text("menu 2"))
    before = len(harness.received_from(wa_id))
    harness.say(wa_id, payloads.button_reply(forged, "Yes"))
    assert len(harness.received_from(wa_id)) == before
    assert last_texts(harness, wa_id)[-1] == TEXT_STALE_BUTTON


def test_stale_button_from_an_earlier_offer_is_refused(harness):
    wa_id = "919800000204"
    harness.say(wa_id, payloads.text("menu 2"))
    old_id, title = offered_ids(harness, wa_id)[0]
    harness.say(wa_id, payloads.text("menu 3"))  # a newer offer
    before = len(harness.received_from(wa_id))
    harness.say(wa_id, payloads.button_reply(old_id, title))
    assert len(harness.received_from(wa_id)) == before
    assert last_texts(harness, wa_id)[-1] == TEXT_STALE_BUTTON
    new_id, title = offered_ids(harness, wa_id)[2]
    harness.say(wa_id, payloads.button_reply(new_id, title))
    assert harness.received_from(wa_id)[-1].text == '/choose_category{"category":"c2"}'


def test_button_id_of_another_conversation_is_refused(harness):
    harness.say("919800000205", payloads.text("menu 2"))
    their_id, title = offered_ids(harness, "919800000205")[0]
    harness.say("919800000206", payloads.button_reply(their_id, title))
    assert harness.received_from("919800000206") == []
    assert last_texts(harness, "919800000206") == [TEXT_STALE_BUTTON]


def test_genuine_button_still_works_after_a_restart(system):
    first = ConnectorHarness(bot=scripted_bot).start()
    try:
        first.say("919800000207", payloads.text("menu 2"))
        button_id, title = offered_ids(first, "919800000207")[1]
    finally:
        first.stop()
    second = ConnectorHarness(bot=scripted_bot).start()
    try:
        second.say("919800000207", payloads.button_reply(button_id, title))
        assert [m.text for m in second.received] == ['/choose_category{"category":"c1"}']
    finally:
        second.stop()


def test_plain_text_payload_button(harness):
    async def offer_skip(message):
        if message.text == "offer skip":
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "Any details?", [{"title": "Skip / छोड़ें", "payload": "skip"}])

    wa_id = "919800000208"
    harness.bot = offer_skip
    try:
        harness.say(wa_id, payloads.text("offer skip"))
        [(button_id, title)] = offered_ids(harness, wa_id)
        harness.say(wa_id, payloads.button_reply(button_id, title))
    finally:
        harness.bot = scripted_bot
    assert harness.received_from(wa_id)[-1].text == "skip"


# -- location and unsupported kinds ---------------------------------------------------------------

def test_location_pin_answers_where(harness):
    wa_id = "919800000301"
    harness.say(wa_id, payloads.location(25.317645, 82.973914, 'Lanka "Gate" no. 2', "Varanasi, UP"))
    [message] = harness.received_from(wa_id)
    parsed = YAMLStoryReader.unpack_regex_message(Message({TEXT: message.text}))
    assert parsed.get(INTENT)["name"] == "share_location"
    assert message.metadata is None
    entities = json.loads(message.text[len("/share_location"):])
    assert entities == {"location": 'Lanka "Gate" no. 2, Varanasi, UP, 25.317645,82.973914'}


def test_location_without_name_keeps_coordinates(harness):
    harness.say("919800000302", payloads.location(25.3, 83.0))
    [message] = harness.received_from("919800000302")
    assert message.text == '/share_location{"location": "25.300000,83.000000"}'


@pytest.mark.parametrize(("number", "message"), enumerate([
    payloads.media("sticker", "123", "image/webp", "AAAA"),
    payloads.contacts("Suresh", "+91 91234 56789"),
    payloads.unsupported(),
    {"type": "order", "order": {"catalog_id": "1"}},
]))
def test_unsupported_kinds_get_a_polite_bilingual_answer(harness, number, message):
    wa_id = f"9198120000{number:02d}"
    harness.say(wa_id, message)
    assert harness.received_from(wa_id) == []
    assert last_texts(harness, wa_id) == [TEXT_UNSUPPORTED]
    assert "Sorry" in TEXT_UNSUPPORTED and "माफ़" in TEXT_UNSUPPORTED


def test_a_reaction_is_ignored_quietly(harness):
    harness.say("919812000099", payloads.reaction("wamid.XYZ", "👍"))
    assert harness.received_from("919812000099") == []
    assert harness.sent("919812000099") == []


def test_shared_contact_card_number_goes_nowhere(harness, system):
    harness.say("919800000402", payloads.contacts("Suresh Informer", "+91 91234 56789"))
    stored = b"".join(p.read_bytes() for p in system.rglob("*") if p.is_file())
    assert b"9123456789" not in stored and b"91234 56789" not in stored and b"Suresh" not in stored


# -- media ----------------------------------------------------------------------------------------

def evidence(evidence_id: str) -> EvidenceItem:
    with get_session_factory()() as session:
        return session.execute(select(EvidenceItem).where(EvidenceItem.id == evidence_id)).scalar_one()


def test_image_with_caption_becomes_one_evidence_message_carrying_the_caption(harness, system):
    wa_id = "919800000501"
    media_id, sha = harness.upload(jpeg_bytes(), "image/jpeg")
    harness.say(wa_id, payloads.media("image", media_id, "image/jpeg", sha, caption="/deny यह उसकी दुकान है"))
    [message] = harness.received_from(wa_id)
    parsed = YAMLStoryReader.unpack_regex_message(Message({TEXT: message.text}))
    assert parsed.get(INTENT)["name"] == "share_evidence"
    entities = {e["entity"]: e["value"] for e in parsed.get("entities")}
    assert entities["caption"] == "/deny यह उसकी दुकान है" and entities["evidence_kind"] == "image"
    item = evidence(entities["evidence_id"])
    assert item.report_id is None and item.kind == "image" and item.metadata_stripped
    assert item.caption == "/deny यह उसकी दुकान है"
    assert (system / "media" / item.stored_name).exists()
    assert message.metadata is None


@pytest.mark.parametrize(("kind", "fixture"), [
    ("audio", lambda: media_fixtures.av("ogg")),
    ("video", lambda: media_fixtures.av("mp4")),
    ("document", lambda: (media_fixtures.pdf(), "application/pdf")),
], ids=["audio", "video", "document"])
def test_other_media_kinds_become_evidence(harness, kind, fixture):
    data, mime = fixture()
    wa_id = "9198000005" + str(10 + ["audio", "video", "document"].index(kind))
    media_id, sha = harness.upload(data, mime)
    harness.say(wa_id, payloads.media(kind, media_id, mime, sha, filename="Ramesh_9876543210.pdf"))
    [message] = harness.received_from(wa_id)
    evidence_id = json.loads(message.text[len("/share_evidence"):])["evidence_id"]
    item = evidence(evidence_id)
    assert item.kind == kind and item.mime_type == mime and item.size_bytes > 0
    assert "Ramesh" not in item.stored_name and "9876" not in item.stored_name


def test_voice_note_is_stored_as_voice_evidence(harness):
    media_id, sha = harness.upload(media_fixtures.av("ogg")[0], "audio/ogg; codecs=opus")
    harness.say("919800000520", payloads.media("audio", media_id, "audio/ogg; codecs=opus", sha, voice=True))
    [message] = harness.received_from("919800000520")
    assert evidence(json.loads(message.text[len("/share_evidence"):])["evidence_id"]).kind == "voice"


def test_a_voice_note_is_understood_like_text_when_speech_to_text_is_configured(system, monkeypatch):
    monkeypatch.setenv("SPEECH_TO_TEXT", "tests.support.speech:transcribe")
    get_settings.cache_clear()
    listening = ConnectorHarness(bot=None).start()
    try:
        media_id, sha = listening.upload(media_fixtures.av("ogg")[0], "audio/ogg")
        listening.say("919800000522", payloads.media("audio", media_id, "audio/ogg", sha, voice=True))
        transcript, evidence_message = listening.received_from("919800000522")
    finally:
        listening.stop()
        monkeypatch.delenv("SPEECH_TO_TEXT")
        get_settings.cache_clear()
    assert parsed_intent(evidence_message.text) == "share_evidence"
    assert transcript.text.endswith(" bytes of audio/ogg") and transcript.metadata is None
    assert transcript.message_id == evidence_message.message_id + ":transcript"


def test_several_files_in_a_row_each_become_evidence(harness):
    uploads = [harness.upload(jpeg_bytes(), "image/jpeg") for _ in range(3)]
    harness.say("919800000521", *[payloads.media("image", m, "image/jpeg", s) for m, s in uploads])
    ids = [json.loads(m.text[len("/share_evidence"):])["evidence_id"]
           for m in harness.received_from("919800000521")]
    assert len(set(ids)) == 3


def media_failure(harness: ConnectorHarness, wa_id: str, message: dict) -> None:
    before = len(harness.received_from(wa_id))
    harness.say(wa_id, message)
    assert len(harness.received_from(wa_id)) == before, "nothing may be forwarded"


def test_unknown_media_id_asks_to_send_again(harness):
    media_failure(harness, "919800000601", payloads.media("image", "404404404", "image/jpeg", "AAAA"))
    assert last_texts(harness, "919800000601") == [TEXT_MEDIA_AGAIN]


def test_expired_url_is_resolved_again_once(harness):
    media_id, sha = harness.upload(jpeg_bytes(), "image/jpeg")
    harness.reset_graph()
    harness.faults(download=[404])
    harness.say("919800000602", payloads.media("image", media_id, "image/jpeg", sha))
    assert len(harness.received_from("919800000602")) == 1
    assert [r["status"] for r in harness.graph_requests("download")] == [404, 200]
    assert len(harness.graph_requests("media_info")) == 2


def test_url_that_keeps_expiring_asks_to_send_again(harness):
    media_id, sha = harness.upload(jpeg_bytes(), "image/jpeg")
    harness.faults(download=[404, 404])
    media_failure(harness, "919800000603", payloads.media("image", media_id, "image/jpeg", sha))
    assert last_texts(harness, "919800000603") == [TEXT_MEDIA_AGAIN]


def test_wrong_sha256_asks_to_send_again(harness, system):
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    media_id, _ = harness.upload(jpeg_bytes(), "image/jpeg", sha256=wrong)
    files_before = set((system / "media").glob("*"))
    media_failure(harness, "919800000604", payloads.media("image", media_id, "image/jpeg", wrong))
    assert last_texts(harness, "919800000604") == [TEXT_MEDIA_AGAIN]
    assert set((system / "media").glob("*")) == files_before


def test_too_large_file_is_refused_before_download(harness):
    media_id, sha = harness.upload(jpeg_bytes(), "image/jpeg", file_size=6 * 1024 * 1024)
    harness.reset_graph()
    media_failure(harness, "919800000605", payloads.media("image", media_id, "image/jpeg", sha))
    assert last_texts(harness, "919800000605") == [TEXT_MEDIA_TOO_LARGE.format(mb=5)]
    assert harness.graph_requests("download") == []


def test_file_larger_than_announced_is_cut_off(harness):
    data = b"OggS" + bytes(17 * 1024 * 1024)
    media_id, sha = harness.upload(data, "audio/ogg", file_size=1000)
    media_failure(harness, "919800000606", payloads.media("audio", media_id, "audio/ogg", sha))
    assert last_texts(harness, "919800000606") == [TEXT_MEDIA_TOO_LARGE.format(mb=16)]


def test_unaccepted_file_type_is_refused(harness):
    media_id, sha = harness.upload(b"PK\x03\x04 zip", "application/zip")
    media_failure(harness, "919800000607", payloads.media("document", media_id, "application/zip", sha))
    assert last_texts(harness, "919800000607") == [TEXT_MEDIA_TYPE]


def test_graph_outage_while_resolving_media_asks_to_send_again(harness):
    media_id, sha = harness.upload(jpeg_bytes(), "image/jpeg")
    harness.faults(media_info=[500, 500, 500, 500, 500])
    media_failure(harness, "919800000608", payloads.media("image", media_id, "image/jpeg", sha))
    assert last_texts(harness, "919800000608") == [TEXT_MEDIA_AGAIN]


def test_dialogue_failure_gets_an_apology_not_silence(harness):
    async def broken(message):
        raise RuntimeError("action server unreachable")

    harness.bot = broken
    try:
        harness.say("919800000701", payloads.text("hello"))
    finally:
        harness.bot = scripted_bot
    [reply] = last_texts(harness, "919800000701")
    assert "112" in reply
