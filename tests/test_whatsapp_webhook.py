"""The webhook itself: verification handshake, signatures, body limits, acknowledgement, ordering,
redelivery. The connector runs in a real Sanic server against the sandbox Graph API."""

from __future__ import annotations

import asyncio
import time

import pytest
import requests

from sandbox import payloads
from tests.support.connector import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    ConnectorHarness,
    scripted_bot,
)


def verify(harness: ConnectorHarness, **params: str) -> requests.Response:
    return requests.get(f"{harness.base}/webhook", params=params, timeout=10)


def test_verification_handshake_echoes_the_challenge(harness):
    response = verify(harness, **{"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                  "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.text == "1158201444"


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.challenge": "1"},
])
def test_verification_refused_without_the_right_token_and_mode(harness, params):
    response = verify(harness, **params)
    assert response.status_code == 403
    assert "1" not in response.text


def test_health_route(harness):
    assert requests.get(f"{harness.base}/", timeout=10).json() == {"status": "ok"}


def test_signed_post_is_accepted_and_forwarded(harness):
    harness.say("919800000001", payloads.text("namaste"))
    assert [m.text for m in harness.received_from("919800000001")] == ["namaste"]


@pytest.mark.parametrize("signature", [
    "",                                   # missing header
    "sha256=" + "0" * 64,                 # wrong digest
    "sha1=abc",                           # wrong scheme
    "sha256=zzzz",                        # garbage
])
def test_bad_or_missing_signature_is_refused_and_nothing_forwarded(harness, signature):
    before = len(harness.received)
    response = harness.post(harness.user("919800000002", "X", payloads.text("forged")), signature=signature)
    assert response.status_code == 403
    time.sleep(0.2)
    assert len(harness.received) == before


def test_signature_with_another_secret_is_refused(harness):
    response = harness.post(harness.user("919800000002", "X", payloads.text("forged")), secret="other")
    assert response.status_code == 403


def test_signature_covers_the_exact_raw_body(harness):
    body = payloads.encode(harness.user("919800000003", "X", payloads.text("original")))
    signature = payloads.sign(body, APP_SECRET)
    tampered = body.replace(b"original", b"tampered")
    assert harness.post(None, raw=tampered, signature=signature).status_code == 403
    assert harness.post(None, raw=body, signature=signature).status_code == 200


def test_malformed_json_gets_400(harness):
    assert harness.post(None, raw=b'{"object": "whatsapp_business_account", ').status_code == 400
    assert harness.post(None, raw=b"\xff\xfe not utf-8").status_code == 400
    assert harness.post(None, raw=b"[1, 2, 3]").status_code == 400


def test_oversize_body_gets_413_without_being_processed(harness):
    huge = harness.user("919800000004", "X", payloads.text("x" * (1024 * 1024 + 10)))
    assert harness.post(huge).status_code == 413
    time.sleep(0.2)
    assert harness.received_from("919800000004") == []


def test_unexpected_but_valid_json_is_acknowledged_and_ignored(harness):
    before = len(harness.received)
    for payload in ({}, {"object": "whatsapp_business_account", "entry": "nonsense"},
                    {"entry": [{"changes": [{"value": {"messages": [{"no": "id"}]}}]}]}):
        assert harness.post(payload).status_code == 200
    harness.settle()
    assert len(harness.received) == before


def test_status_callbacks_are_accepted_silently(harness):
    harness.reset_graph()
    before = len(harness.received)
    for status in ("sent", "delivered", "read", "failed"):
        response = harness.post(payloads.statuses(PHONE_NUMBER_ID, "919800000005", payloads.message_id(), status))
        assert response.status_code == 200
    harness.settle()
    assert len(harness.received) == before
    assert harness.graph_requests() == []


def test_several_messages_in_one_payload_are_processed_in_order(harness):
    texts = [f"message {i}" for i in range(6)]
    harness.say("919800000006", *[payloads.text(t) for t in texts])
    assert [m.text for m in harness.received_from("919800000006")] == texts


def test_messages_from_several_users_in_one_payload(harness):
    payload = harness.user("919800000007", "A", payloads.text("from A"))
    other = harness.user("919800000008", "B", payloads.text("from B"))
    payload["entry"].append(other["entry"][0])
    harness.post(payload)
    harness.settle()
    assert [m.text for m in harness.received_from("919800000007")] == ["from A"]
    assert [m.text for m in harness.received_from("919800000008")] == ["from B"]


def test_redelivered_message_is_processed_once(harness):
    payload = harness.user("919800000009", "X", payloads.text("only once"))
    for _ in range(3):
        assert harness.post(payload).status_code == 200
        harness.settle()
    assert [m.text for m in harness.received_from("919800000009")] == ["only once"]
    assert len(harness.sent("919800000009")) == 1


def test_redelivery_after_a_restart_is_still_dropped(system):
    payload = None
    first = ConnectorHarness(bot=scripted_bot).start()
    try:
        payload = first.user("919800000010", "X", payloads.text("before restart"))
        first.post(payload)
        first.settle()
        assert len(first.received) == 1
    finally:
        first.stop()
    second = ConnectorHarness(bot=scripted_bot).start()
    try:
        assert second.post(payload).status_code == 200
        second.say("919800000010", payloads.text("after restart"))
        assert [m.text for m in second.received] == ["after restart"]
    finally:
        second.stop()


def test_acknowledges_at_once_and_works_in_the_background(system):
    async def slow_bot(message):
        await asyncio.sleep(2.5)
        await scripted_bot(message)

    harness = ConnectorHarness(bot=slow_bot).start()
    try:
        started = time.monotonic()
        response = harness.post(harness.user("919800000011", "X", payloads.text("slow"), payloads.text("slower")))
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 1.0
        harness.wait_for(lambda: len(harness.sent("919800000011")) == 2, timeout=15)
        assert [m.text for m in harness.received] == ["slow", "slower"]
    finally:
        harness.stop()


def test_order_kept_across_payloads_while_earlier_work_is_pending(system):
    async def slow_first(message):
        if message.text == "first":
            await asyncio.sleep(1.0)

    harness = ConnectorHarness(bot=slow_first).start()
    try:
        harness.post(harness.user("919800000012", "X", payloads.text("first")))
        harness.post(harness.user("919800000012", "X", payloads.text("second")))
        harness.settle()
        assert [m.text for m in harness.received] == ["first", "second"]
    finally:
        harness.stop()


def test_webhook_for_another_business_number_is_ignored(harness):
    payload = payloads.user_messages("999999999999999", "919800000013", "X", [payloads.text("misrouted")])
    assert harness.post(payload).status_code == 200
    harness.settle()
    assert harness.received_from("919800000013") == []


def test_username_user_without_phone_number_is_answered_via_bsuid(harness):
    harness.reset_graph()
    payload = payloads.user_messages(PHONE_NUMBER_ID, "", "Anon", [payloads.text("no number")],
                                     user_id="IN.1648738043044942")
    harness.post(payload)
    harness.settle()
    sender = harness.channel.config.anonymizer.sender_id(user_id="IN.1648738043044942")
    assert [m.text for m in harness.received if m.sender_id == sender] == ["no number"]
    [reply] = harness.sent()
    assert reply["recipient"] == "IN.1648738043044942"
    assert "to" not in reply
