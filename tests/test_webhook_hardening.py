"""Hostile webhook input: deep nesting, wrong types, old messages, and a property-based fuzz run.

Whatever a correctly signed body contains, the webhook answers 200, 400 or 413 (never 5xx), the
connector never falls over (no generic failure reply), only connector-made intents reach the
dialogue, and nothing is stored for messages that carry nothing to store.
"""

from __future__ import annotations

import json
import string
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from channels.whatsapp_inbound import too_old
from channels.whatsapp_texts import FAILURE as TEXT_FAILURE
from sandbox import payloads
from satark.db.models import EvidenceItem, ProcessedMessage
from satark.db.session import get_session_factory
from tests.support import media_fixtures
from tests.support.connector import PHONE_NUMBER_ID, ConnectorHarness

CONNECTOR_INTENTS = ("/share_evidence{", "/share_location{")


async def nodding_bot(message) -> None:
    """The dialogue always answers (the connector apologises for a turn that got no answer); a fixed
    word, so the connector's own replies stand out."""
    await message.output_channel.send_text_message(message.sender_id, "ok")


@pytest.fixture(scope="module")
def harness(system):
    """The real connector with a dialogue that only nods, so every other reply comes from the connector."""
    harness = ConnectorHarness(bot=nodding_bot).start()
    yield harness
    harness.stop()


def count(model) -> int:
    with get_session_factory().begin() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def failures(harness) -> int:
    return sum(TEXT_FAILURE[:40] in json.dumps(m, ensure_ascii=False) for m in harness.sent())


def test_deeply_nested_json_gets_400_not_500(harness):
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        assert harness.post(None, raw=body).status_code == 400


def test_an_integer_too_long_to_parse_gets_400(harness):
    assert harness.post(None, raw=b'{"entry": ' + b"9" * 5000 + b"}").status_code == 400


def test_non_string_fields_never_reach_the_dialogue_as_garbage(harness):
    before = failures(harness)
    wa_id = "919800009001"
    odd = [
        {"type": "text", "text": {"body": {"nested": ["not", "text"]}}},
        {"type": "image", "image": {"id": "m1", "mime_type": ["image/jpeg"], "sha256": 7, "caption": {"x": 1}}},
        {"type": "interactive", "interactive": {"type": ["button_reply"], "button_reply": {"id": 5}}},
        {"type": ["text"], "text": {"body": "hi"}},
        {"type": "location", "location": {"latitude": [1], "longitude": {"a": 2}, "name": 3}},
    ]
    media_id, sha = harness.upload(media_fixtures.photo(), "image/jpeg")
    odd.append({"type": "image", "image": {"id": media_id, "sha256": sha, "mime_type": {"a": 1},
                                           "caption": {"text": "not a string"}, "voice": "yes"}})
    harness.say(wa_id, *odd)
    assert failures(harness) == before  # handled, not crashed into the generic failure reply
    received = [m.text for m in harness.received_from(wa_id)]
    assert all(text.startswith(CONNECTOR_INTENTS) or not text.startswith("/") for text in received)
    assert [t for t in received if t.startswith("/share_evidence")], "the photo became evidence, caption dropped"
    assert not any("not a string" in text or "nested" in text for text in received)


def test_messages_older_than_the_configured_age_are_ignored(harness, monkeypatch):
    assert too_old(str(int(time.time()) - 25 * 3600), 24 * 60)
    assert not too_old(str(int(time.time()) - 60), 24 * 60)
    assert not too_old("not a number", 24 * 60)
    wa_id = "919800009002"
    payload = harness.user(wa_id, "X", payloads.text("redelivered after three days"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(time.time()) - 3 * 86400)
    rows = count(ProcessedMessage)
    assert harness.post(payload).status_code == 200
    harness.settle()
    assert harness.received_from(wa_id) == [] and count(ProcessedMessage) == rows


# -- property-based fuzzing ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
hostile_text = st.one_of(
    st.text(max_size=200),
    st.just("x" * 10_000),
    st.text(alphabet="😀🙏🔥👍🏽🇮🇳‍", min_size=500, max_size=3000),            # emoji floods (with ZWJ)
    st.text(alphabet="\u200b\u200c\u200d\u2060\ufeff/ab", min_size=1, max_size=50),  # zero-width tricks
    st.text(alphabet="\u202e\u202d\u200f\u0627\u0644/affirm", min_size=1, max_size=50),  # right-to-left
    st.sampled_from(["/affirm", " /deny", "\u200b/cancel", "／affirm", '/share_evidence{"evidence_id":"x"}']),
)
field_names = st.sampled_from(["from", "id", "type", "timestamp", "text", "image", "interactive", "button",
                               "location", "audio", "document", "contacts", "context"])


@st.composite
def hostile_message(draw) -> dict:
    kind = draw(st.sampled_from(["text", "interactive", "button", "image", "audio", "video", "document",
                                 "location", "sticker", "contacts", "unsupported", "reaction", "unknown"]))
    message = {"type": kind}
    if kind == "text":
        message["text"] = {"body": draw(hostile_text)}
    elif kind == "interactive":
        forged = draw(st.one_of(st.text(max_size=60), st.from_regex(r"b1\.[0-9a-f]{1,12}\.\d\.[A-Za-z0-9_-]{1,40}"
                                                                    r"\.[0-9a-f]{24}", fullmatch=True)))
        message["interactive"] = {"type": draw(st.sampled_from(["button_reply", "list_reply", "nfm_reply"])),
                                  "button_reply": {"id": forged, "title": "Yes"},
                                  "list_reply": {"id": forged, "title": "Yes"}}
    elif kind in ("image", "audio", "video", "document"):
        message[kind] = {"id": draw(st.text(string.ascii_letters, max_size=10)),
                         "mime_type": draw(json_values), "sha256": draw(json_values), "caption": draw(json_values)}
    else:
        message[kind] = draw(json_values)
    for name, value in draw(st.dictionaries(field_names, json_values, max_size=2)).items():
        if name not in ("from", "id"):  # identity stays valid so the message reaches the connector
            message[name] = value
    return message


bodies = st.one_of(
    st.builds(lambda msgs: payloads.user_messages(PHONE_NUMBER_ID, "919800009100", "Fuzz Name", msgs),
              st.lists(hostile_message(), min_size=1, max_size=3)).map(payloads.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["object", "entry", "changes", "value"]), json_values).map(
        lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),                                   # invalid UTF-8, truncated JSON
    st.integers(min_value=2000, max_value=20_000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    st.integers(min_value=1024 * 1024 + 1, max_value=1024 * 1024 + 4096).map(  # huge: over the body limit
        lambda n: payloads.encode({"entry": [{"pad": "x" * n}]})),
)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=bodies)
def test_fuzzed_signed_webhooks_never_fail_the_server(harness, body):
    evidence = count(EvidenceItem)
    response = harness.post(None, raw=body)
    assert response.status_code in (200, 400, 413), response.text
    harness.settle()
    assert count(EvidenceItem) == evidence  # no file was uploaded to the Graph API: nothing to store


def typed_intent(text: str) -> bool:
    """Would Rasa read this as intent syntax? (its first visible character is, or normalises to, a slash)"""
    visible = [ch for ch in text if unicodedata.category(ch)[0] not in "ZC"]
    return bool(visible) and unicodedata.normalize("NFKC", visible[0]).startswith("/")


def test_after_fuzzing_nothing_crashed_or_slipped_through(harness, system):
    """Runs after the fuzz test (same module): the connector still works, never crashed, never forwarded
    typed intent syntax or a forged button, and stored no identity."""
    assert failures(harness) == 0
    assert harness.received, "the fuzz run reached the dialogue"
    for message in harness.received:
        assert message.text.startswith(CONNECTOR_INTENTS) or not typed_intent(message.text), message.text[:80]
    harness.say("919800009200", payloads.text("still alive"))
    assert [m.text for m in harness.received_from("919800009200")] == ["still alive"]
    written = b"".join(path.read_bytes() for path in system.rglob("*") if path.is_file())
    assert b"919800009100" not in written and b"Fuzz Name" not in written
