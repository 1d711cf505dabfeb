"""`make run`'s Rasa server: two Sanic worker processes on SQLite. The kernel gives each webhook
*connection* to one worker; a worker already busy rings the doorbell and the other one serves the
new conversation, so both work even when every webhook arrives on one kept-alive connection."""

from __future__ import annotations

import time

import pytest
import requests

from bench.load import cpu_seconds
from sandbox import payloads
from tests.support import media_fixtures
from tests.support.servers import Stack, children
from tests.test_scale_out import (
    APP_SECRET,
    ENDPOINTS,
    PHONE_NUMBER_ID,
    post,
    post_message,
    replies_to,
    sandbox_credentials,
    wait_replies,
)

CITIZENS = 12
DESCRIPTION = ("A truck full of cows is taken every night from the village pond towards the Bihar border "
               "by three men in a white pickup without a number plate")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workers")
    stack = Stack(workdir, env={
        "SANIC_WORKERS": "2", "SATARK_VAR_DIR": str(workdir / "var"), "SATARK_DEV_MODE": "true",
        "DATABASE_URL": f"sqlite:///{workdir / 'var' / 'satark.db'}", "SENDER_RATE_LIMIT_PER_MINUTE": "1000"})
    try:
        stack.prepare_database()
        stack.start_action_server()
        stack.start_sandbox()
        stack.start_rasa(credentials=sandbox_credentials(stack), endpoints=ENDPOINTS)
        yield stack
    finally:
        stack.stop()


def test_both_workers_serve_when_every_webhook_comes_on_one_connection(server):
    workers = children(server.services["rasa"].process.pid)
    assert len(workers) == 2
    phones = [f"9197100000{number:02d}" for number in range(CITIZENS)]
    script = ["Hi", "English", DESCRIPTION]
    before = {pid: cpu_seconds(pid) for pid in workers}
    with requests.Session() as connection:  # one kept-alive connection: one worker receives everything
        for turn, text in enumerate(script):
            expected = [len(replies_to(server, phone)) + 1 for phone in phones]
            for phone in phones:
                body = payloads.encode(payloads.user_messages(PHONE_NUMBER_ID, phone, "Citizen",
                                                              [payloads.text(text)]))
                response = connection.post(server.services["rasa"].url + "/webhooks/whatsapp/webhook", data=body,
                                           timeout=30, headers={"Content-Type": "application/json",
                                                                "X-Hub-Signature-256": payloads.sign(body, APP_SECRET)})
                assert response.status_code == 200
            deadline = time.monotonic() + 120
            while any(len(replies_to(server, phone)) < count for phone, count in zip(phones, expected, strict=True)):
                assert time.monotonic() < deadline, f"turn {turn} unanswered"
                time.sleep(0.3)
    time.sleep(1.5)  # anything answered twice would have arrived by now
    for phone in phones:
        replies = replies_to(server, phone)
        assert len(replies) == 4, replies  # welcome + language menu, description prompt, category check
        assert "Cattle smuggling" in replies[-1]
    used = [cpu_seconds(pid) - before[pid] for pid in workers]
    assert min(used) > 0.25 * sum(used), used  # without the doorbell: one worker did it all


def test_a_captioned_photo_as_the_first_message_is_the_complaint(server):
    """The caption says what happened, where and when: the conversation goes on in its language,
    offers the category the NLU model sees in it and asks only for what the caption did not say,
    as it does for a typed complaint."""
    phone = "919710000099"
    upload = requests.post(server.services["sandbox"].url + "/_sandbox/media", data=media_fixtures.photo("JPEG"),
                           params={"mime_type": "image/jpeg"}, timeout=10).json()
    photo = payloads.media("image", upload["id"], "image/jpeg", upload["sha256"],
                           caption="सैदपुर थाने के रामपुर गाँव में हर रात कच्ची शराब बिकती है")
    post_message(server, "rasa", phone, photo)
    replies = wait_replies(server, phone, 0)
    assert "मैं समझा कि यह *अवैध शराब* से जुड़ी सूचना है" in replies[-1], replies
    assert not any("Choose your language" in reply or "श्रेणी चुनें:" in reply for reply in replies), replies
    recorded = requests.get(server.services["sandbox"].url + "/_sandbox/requests", timeout=10).json()
    [*_, offer] = [entry["json"] for entry in recorded if (entry.get("json") or {}).get("to") == phone]
    yes = offer["interactive"]["action"]["buttons"][0]["reply"]
    post_message(server, "rasa", phone, payloads.button_reply(yes["id"], yes["title"]))
    # District (Saidpur is a police station of Ghazipur), village and time came with the caption.
    assert wait_replies(server, phone, len(replies))[-1].startswith("और जानकारी दीजिए"), replies_to(server, phone)
    before = len(replies_to(server, phone))
    post(server, "rasa", phone, "दो आदमी सफ़ेद गाड़ी से आते हैं")
    # The photo is not asked for again as if it had been lost.
    assert wait_replies(server, phone, before)[-1].startswith("आपकी भेजी फ़ाइलें (1) रिपोर्ट में जुड़ चुकी हैं")
