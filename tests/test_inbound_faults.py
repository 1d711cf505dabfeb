"""Faults around the real connector (in a real Sanic server, sandbox Graph API): Redis going down
and coming back, a flooding sender, Meta throttling or answering late. The dialogue is the
scripted bot; the stores are the machine's real Redis, reached through a relay the test can cut."""

from __future__ import annotations

import secrets
import time

import pytest
import redis
import requests

from sandbox import payloads
from tests.support.connector import ConnectorHarness, isolated_system, scripted_bot
from tests.support.tcp_proxy import TcpProxy

RATE_LIMIT = 8


@pytest.fixture(scope="module")
def relay():
    proxy = TcpProxy(6379).start()
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def harness(tmp_path_factory, relay):
    prefix = f"satarktest{secrets.token_hex(4)}"
    env = {"REDIS_URL": f"redis://127.0.0.1:{relay.port}/0", "REDIS_KEY_PREFIX": prefix,
           "SENDER_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT), "INBOUND_POLL_SECONDS": "0.1"}
    with isolated_system(tmp_path_factory.mktemp("faults"), **env):
        harness = ConnectorHarness(bot=scripted_bot, timeout_seconds=1.0).start()
        yield harness
        harness.stop()
    client = redis.Redis(port=6379)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def ready(harness: ConnectorHarness) -> requests.Response:
    return requests.get(f"{harness.base}/ready", timeout=10)


def test_readiness_is_green_with_every_store_up(harness):
    response = ready(harness)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"inbound_queue": "ok", "report_database": "ok"}


def test_redis_down_turns_readiness_red_refuses_webhooks_and_recovers(harness, relay):
    relay.cut()
    try:
        response = ready(harness)
        assert response.status_code == 503
        assert response.json()["checks"]["inbound_queue"].startswith("QueueUnavailable: Redis: ")
        down = harness.post(harness.user("919800001001", "X", payloads.text("while redis is down")))
        assert down.status_code == 503  # not acknowledged: WhatsApp retries later
    finally:
        relay.restore()
    for _ in range(50):
        if ready(harness).status_code == 200:
            break
        time.sleep(0.1)
    assert ready(harness).status_code == 200
    # WhatsApp's retry of the refused delivery is taken and answered once.
    harness.say("919800001001", payloads.text("while redis is down"))
    harness.wait_for(lambda: len(harness.sent("919800001001")) == 1)
    assert [m.text for m in harness.received_from("919800001001")] == ["while redis is down"]


def test_a_flood_from_one_sender_is_limited_for_that_sender_only(harness):
    harness.reset_graph()
    flood = [payloads.text(f"spam {i}") for i in range(RATE_LIMIT * 3)]
    for message in flood:
        assert harness.post(harness.user("919800001002", "X", message)).status_code == 200
    started = time.monotonic()
    harness.say("919800001003", payloads.text("an honest report"))
    harness.wait_for(lambda: len(harness.sent("919800001003")) == 1)
    assert time.monotonic() - started < 2.0
    harness.settle()
    assert len(harness.received_from("919800001002")) == RATE_LIMIT
    notices = [m for m in harness.sent("919800001002") if "very fast" in m["text"]["body"]]
    assert len(notices) == 1
    assert [m.text for m in harness.received_from("919800001003")] == ["an honest report"]


def test_throttled_and_failing_graph_api_is_retried_and_delivered_once(harness):
    harness.reset_graph()
    harness.faults(messages=[429, 500, 503])
    harness.say("919800001004", payloads.text("retry me"))
    harness.wait_for(lambda: len(harness.sent("919800001004")) == 1)
    attempts = [r["status"] for r in harness.graph_requests("messages")]
    assert attempts == [429, 500, 503, 200]


def test_a_send_that_times_out_is_not_sent_twice(harness):
    harness.reset_graph()
    harness.faults(messages=[-3])  # delivered, but the answer comes after the client's 1 s timeout
    harness.say("919800001005", payloads.text("late answer"))
    time.sleep(3.5)
    assert [r["status"] for r in harness.graph_requests("messages")] == [200]
    assert len(harness.sent("919800001005")) == 1
