"""Officers and forwarding: a report goes to an officer as a WhatsApp template through the connector's
Graph client to the sandbox (a real HTTP server), whose delivery receipts come back through the real
webhook and update the forward. Nothing about the reporter is in the message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from satark import forwarding, police
from satark.db.models import Forward
from satark.db.session import get_session_factory
from tests.support.connector import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.support.police import submit, user

OFFICER_PHONE = "919839012345"
DASHBOARD = "https://dashboard.example.in"


@pytest.fixture(scope="module")
def people(harness):
    """An SP office in Ghazipur and Jaunpur, the DIG office and an admin (one set per module)."""
    return {"gzp": user("sp-gzp", "sp", "SP-GZP"), "jnp": user("sp-jnp", "sp", "SP-JNP"),
            "dig": user("dig-vns", "dig", "DIG-VNS"), "admin": user("admin", "admin", None)}


@pytest.fixture
def graph(harness, monkeypatch):
    """The forward's Graph API settings point at the harness's sandbox."""
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
    monkeypatch.setenv("WHATSAPP_API_URL", f"{harness.graph}/v22.0")
    harness.reset_graph()
    return harness


def templates(harness) -> list[dict]:
    return requests.get(f"{harness.graph}/_sandbox/templates", timeout=10).json()


def forward_status(forward_id: int) -> str:
    with get_session_factory().begin() as session:
        return session.get(Forward, forward_id).status


def test_officers_are_kept_by_admins_and_sp_offices_with_masked_numbers(people):
    officer = police.save_officer(people["gzp"], name="Ram Singh", rank="SI", district="GZP",
                                  phone="+91 98390 12345", categories=("illegal_liquor",))
    police.save_officer(people["admin"], name="Asha Devi", rank="Inspector", district="JNP", phone="919839054321")
    with pytest.raises(PermissionError):
        police.save_officer(people["jnp"], name="X", rank="SI", district="GZP", phone=OFFICER_PHONE)
    with pytest.raises(PermissionError):
        police.save_officer(people["dig"], name="X", rank="SI", district="GZP", phone=OFFICER_PHONE)
    with pytest.raises(ValueError, match="country code"):
        police.save_officer(people["gzp"], name="X", rank="SI", district="GZP", phone="12345")
    listed = police.officers(people["gzp"])
    assert [(o.id, o.name, o.categories, o.phone_masked) for o in listed] == \
        [(officer, "Ram Singh", ("illegal_liquor",), "••••••••2345")]
    assert {o.district for o in police.officers(people["dig"])} == {"GZP", "JNP"}
    assert len(police.officers(people["admin"], district="JNP")) == 1
    police.save_officer(people["gzp"], officer_id=officer, name="Ram Singh", rank="ASI", district="GZP",
                        phone=None, active=False)
    edited = police.officers(people["gzp"])[0]
    assert (edited.rank, edited.active, edited.phone_masked) == ("ASI", False, "••••••••2345")


def test_forward_reaches_the_officer_and_delivery_receipts_update_it(people, graph):
    sp = people["gzp"]
    officer = police.save_officer(sp, name="Mohan Lal", rank="SI", district="GZP", phone=OFFICER_PHONE)
    receipt = submit(description="Kachi sharab\nbanti hai, mera number 98765 43210 hai",
                     place="Saidpur,   near the canal")
    forward_id = police.forward(sp, receipt.public_number.lower(), officer, DASHBOARD)
    [sent] = templates(graph)
    assert "Officer inbox" in requests.get(f"{graph.graph}/officer", timeout=10).text
    assert sent["to"] == OFFICER_PHONE and sent["name"] == "satark_report_forward"
    assert sent["callback_data"] == f"satark-forward:{forward_id}"
    number, category, place, summary, link = sent["parameters"]
    assert (number, category, place) == (receipt.public_number, "Illegal liquor", "Saidpur, near the canal")
    assert link == f"{DASHBOARD}/report?number={receipt.public_number}"
    assert "98765" not in summary and "[number]" in summary and "\n" not in summary
    message = str(graph.sent()[-1])
    assert receipt.receipt_code not in message and receipt.receipt_code.replace("-", "") not in message
    graph.wait_for(lambda: forward_status(forward_id) == "delivered")
    requests.post(f"{graph.graph}/_sandbox/templates/read", json={"id": sent["id"]}, timeout=10).raise_for_status()
    graph.wait_for(lambda: forward_status(forward_id) == "read")
    view = police.open_report(sp, receipt.public_number)
    assert view.status == "assigned"
    assert [(f["officer"], f["status"]) for f in view.forwards] == [("SI Mohan Lal", "read")]
    assert "forward" in [event["kind"] for event in view.timeline]
    rows, _ = police.audit_log(people["admin"], action="forward")
    assert rows[0].report_number == receipt.public_number and "Mohan Lal" in rows[0].detail
    log = police.audit_csv(people["admin"])
    assert not any(text in log for text in ("98765", "Kachi", "Saidpur", receipt.receipt_code))


def test_a_refused_forward_is_marked_failed(people, graph):
    sp = people["gzp"]
    officer = police.save_officer(sp, name="Vijay", rank="HC", district="GZP", phone=OFFICER_PHONE)
    graph.faults(messages=[400])
    forward_id = police.forward(sp, submit().public_number, officer, DASHBOARD)
    assert forward_status(forward_id) == "failed"


def test_forwarding_is_scoped_to_the_users_reports_and_officers(people, graph):
    officer = police.save_officer(people["gzp"], name="Sita", rank="SI", district="GZP", phone=OFFICER_PHONE)
    ghazipur = submit().public_number
    with pytest.raises(police.ReportNotFound):
        police.forward(people["jnp"], ghazipur, officer, DASHBOARD)
    jaunpur = submit("JNP").public_number
    with pytest.raises(LookupError, match="officer"):
        police.forward(people["jnp"], jaunpur, officer, DASHBOARD)
    assert templates(graph) == []


def test_receipts_never_go_back_and_others_are_ignored(people, graph):
    officer = police.save_officer(people["gzp"], name="Kiran", rank="SI", district="GZP", phone=OFFICER_PHONE)
    graph.faults(messages=[400])  # no real send: the receipts below are fed directly
    forward_id = police.forward(people["gzp"], submit().public_number, officer, DASHBOARD)
    with get_session_factory().begin() as session:
        row = session.get(Forward, forward_id)
        row.status, row.message_key, row.failed_at = "queued", forwarding.message_key("wamid.test-1"), None
    now = datetime.now(timezone.utc)
    receipts = [forwarding.DeliveryStatus("wamid.test-1", "delivered", now),
                forwarding.DeliveryStatus("wamid.test-1", "sent", now - timedelta(seconds=5)),
                forwarding.DeliveryStatus("wamid.unknown", "delivered", now)]
    assert forwarding.record_delivery_statuses(receipts) == 1
    assert forward_status(forward_id) == "delivered"
    by_callback = forwarding.DeliveryStatus("wamid.other", "read", now,
                                            forwarding.forward_id_from_callback(f"satark-forward:{forward_id}"))
    assert forwarding.record_delivery_statuses([by_callback]) == 1
    assert forward_status(forward_id) == "read"
    assert forwarding.forward_id_from_callback("something else") is None


def test_without_credentials_forwards_go_to_the_local_sandbox(monkeypatch):
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("SANDBOX_PORT", "8123")
    api_url, token, phone_number_id = forwarding.graph_settings()
    assert api_url == "http://127.0.0.1:8123/v22.0" and token == "sandbox-access-token"
    assert phone_number_id == "100000000000001"
