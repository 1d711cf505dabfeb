"""Two Rasa servers sharing PostgreSQL (tracker store, reports) and Redis (lock store, redelivery keys,
inbound queue), with the real connector, action server and sandbox Graph API: a conversation whose
messages alternate between the servers, a server killed mid-form, the action server dying."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import redis
import requests

from bench.load import SCRIPT
from sandbox import payloads
from sandbox.server import DEFAULTS
from tests.support.servers import Stack, free_port

PHONE_NUMBER_ID = DEFAULTS["WHATSAPP_PHONE_NUMBER_ID"]
APP_SECRET = DEFAULTS["WHATSAPP_APP_SECRET"]
REPLY_TIMEOUT = 90.0  # a turn on 2 busy cores, plus a lease expiring after a crash
QUIET = 0.7
ANONYMIZATION_KEY = "scale-out-test-anonymization-key-0123456789abcdef"


def admin(statement: str) -> None:
    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


ENDPOINTS = {"tracker_store": {"type": "satark.rasa_stores.EnvironmentTrackerStore"},
             "lock_store": {"type": "satark.rasa_stores.EnvironmentLockStore"}}


def sandbox_credentials(stack: Stack) -> dict:
    """The WhatsApp connector's credentials.yml entry, talking to the stack's Graph API stand-in."""
    return {"channels.whatsapp.WhatsAppInput": {
        "verify_token": DEFAULTS["WHATSAPP_VERIFY_TOKEN"], "app_secret": APP_SECRET,
        "access_token": DEFAULTS["WHATSAPP_ACCESS_TOKEN"], "phone_number_id": PHONE_NUMBER_ID,
        "api_url": stack.env["WHATSAPP_API_URL"]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    database = f"satark_scale_{uuid.uuid4().hex[:10]}"
    prefix = f"scaletest{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{database}"')
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    workdir = tmp_path_factory.mktemp("scale-out")
    stack = Stack(workdir, env={
        "DATABASE_URL": url, "TRACKER_STORE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_KEY_PREFIX": prefix, "INBOUND_LEASE_SECONDS": "10", "INBOUND_POLL_SECONDS": "0.2",
        "TICKET_LOCK_LIFETIME": "10", "SATARK_VAR_DIR": str(workdir / "var"), "SATARK_DEV_MODE": "true",
        "SENDER_RATE_LIMIT_PER_MINUTE": "1000", "ANONYMIZATION_KEY": ANONYMIZATION_KEY,
        "RECEIPT_SECRET": "scale-out-test-receipt-secret-0123456789abcdef"})
    try:
        stack.prepare_database()
        stack.start_action_server()
        stack.start_sandbox()
        with ThreadPoolExecutor(2) as pool:
            starting = [pool.submit(stack.start_rasa, credentials=sandbox_credentials(stack), endpoints=ENDPOINTS,
                                    name=name, port=port) for name, port in (("rasa", None), ("rasa_b", free_port()))]
            for future in starting:
                future.result()
        yield stack, url
    finally:
        stack.stop()
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        client = redis.Redis()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def replies_to(stack: Stack, phone: str) -> list[str]:
    recorded = requests.get(stack.services["sandbox"].url + "/_sandbox/requests", timeout=10).json()
    texts = []
    for entry in recorded:
        message = entry.get("json") or {}
        if entry["endpoint"] == "messages" and entry["status"] == 200 and message.get("to") == phone:
            texts.append(message.get("text", {}).get("body") or message.get("interactive", {})["body"]["text"])
    return texts


def post(stack: Stack, server: str, phone: str, text: str) -> None:
    post_message(stack, server, phone, payloads.text(text))


def post_message(stack: Stack, server: str, phone: str, message: dict) -> None:
    """One signed webhook carrying `message` (a text, a tap, a file) from `phone`."""
    body = payloads.encode(payloads.user_messages(PHONE_NUMBER_ID, phone, "Citizen", [message]))
    response = requests.post(stack.services[server].url + "/webhooks/whatsapp/webhook", data=body, timeout=30,
                             headers={"Content-Type": "application/json",
                                      "X-Hub-Signature-256": payloads.sign(body, APP_SECRET)})
    assert response.status_code == 200, response.text


def wait_replies(stack: Stack, phone: str, before: int) -> list[str]:
    """The replies of one turn: at least one, then none for QUIET seconds."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    seen = before
    while time.monotonic() < deadline:
        texts = replies_to(stack, phone)
        if len(texts) > before and len(texts) == seen:
            return texts[before:]
        seen = len(texts)
        time.sleep(QUIET)
    raise AssertionError(f"no reply to a message within {REPLY_TIMEOUT} s: {replies_to(stack, phone)[before:]}")


def say(stack: Stack, server: str, phone: str, text: str) -> list[str]:
    before = len(replies_to(stack, phone))
    post(stack, server, phone, text)
    return wait_replies(stack, phone, before)


def user_texts(url: str, stack: Stack, phone: str) -> list[str]:
    """What the tracker store holds as this citizen's messages, in order."""
    import sqlalchemy

    sender = stack_anonymizer(stack).sender_id(wa_id=phone)
    engine = sqlalchemy.create_engine(url, future=True)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"), {"s": sender})
        texts = [json.loads(data)["text"] for (data,) in rows]
    engine.dispose()
    return texts


def stack_anonymizer(stack: Stack):
    from satark.anonymity import Anonymizer

    return Anonymizer(ANONYMIZATION_KEY.encode())


def query(url: str, statement: str) -> list[tuple]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, future=True)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(sqlalchemy.text(statement))]
    engine.dispose()
    return rows


def report_count(url: str) -> int:
    return query(url, "SELECT count(*) FROM reports")[0][0]


def test_one_conversation_alternating_between_two_servers(cluster):
    stack, url = cluster
    phone, reports = "919700000001", report_count(url)
    transcript = []
    for index, text in enumerate(SCRIPT):
        replies = say(stack, ("rasa", "rasa_b")[index % 2], phone, text)
        transcript.append((text, replies))
    assert "Report number" in replies[-1], transcript
    assert user_texts(url, stack, phone) == SCRIPT  # every message once, in order
    assert report_count(url) == reports + 1


def test_a_server_killed_mid_form_the_other_carries_on(cluster):
    stack, url = cluster
    phone, reports = "919700000002", report_count(url)
    for text in SCRIPT[:4]:
        say(stack, "rasa", phone, text)
    before = len(replies_to(stack, phone))
    post(stack, "rasa", phone, SCRIPT[4])  # acknowledged by A ...
    os.killpg(stack.services["rasa"].process.pid, signal.SIGKILL)  # ... which dies at once
    assert "Where" in " ".join(wait_replies(stack, phone, before))  # answered by B
    for text in SCRIPT[5:]:
        replies = say(stack, "rasa_b", phone, text)
    assert "Report number" in replies[-1]
    assert user_texts(url, stack, phone) == SCRIPT
    assert report_count(url) == reports + 1


def test_action_server_down_apology_then_the_draft_resumes(cluster):
    stack, url = cluster
    phone, reports = "919700000003", report_count(url)
    for text in SCRIPT[:5]:
        say(stack, "rasa_b", phone, text)
    actions = stack.services["actions"]
    os.killpg(actions.process.pid, signal.SIGKILL)
    actions.process.wait(10)
    apology = say(stack, "rasa_b", phone, SCRIPT[5])
    assert any("something went wrong" in text for text in apology)
    stack.start_action_server(port=actions.port)
    assert "When" in " ".join(say(stack, "rasa_b", phone, SCRIPT[5]))
    for text in SCRIPT[6:]:
        replies = say(stack, "rasa_b", phone, text)
    assert "Report number" in replies[-1]
    assert report_count(url) == reports + 1
    [(district, place, incident_time)] = query(
        url, "SELECT district_code, place, incident_time FROM reports ORDER BY id DESC LIMIT 1")
    assert (district, place, incident_time) == ("GZP", SCRIPT[5], SCRIPT[6])  # answers before the outage kept
