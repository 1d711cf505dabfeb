"""The police side in a real browser: Debian's Chromium, driven by Playwright, on the real stack.

A citizen reports through the REST channel of the real Rasa server, with a photo: REST carries no
files, so the photo is stored the way the WhatsApp connector stores one (`satark.media.store`) and the
conversation gets the message the connector sends for it (`/share_evidence{"evidence_id": ...}`). An
SP user of that district signs in to the real Streamlit server, adds an officer, finds the report in
the inbox, opens it, sees the photo, changes its status and forwards it to the officer: the sandbox
receives the WhatsApp template and its delivery receipts come back through the real webhook. Another
district's SP user then fails to open the report by URL. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect, sync_playwright

from sandbox.server import DEFAULTS
from tests.support.servers import MODEL, ROOT, VENV_BIN, Stack, free_port

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: `make browser` installs it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"
OFFICER_PHONE = "+91 98390 12345"
SCREENSHOTS = ROOT / "var" / "screenshots"
TIMEOUT_MS = 30_000


def run_python(stack: Stack, *args: str, stdin: str = "") -> str:
    result = subprocess.run([str(VENV_BIN / "python"), *args], cwd=ROOT, env=stack.environment(), input=stdin,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def photo(folder: Path) -> Path:
    picture = Image.new("RGB", (480, 320), (34, 110, 60))
    ImageDraw.Draw(picture).rectangle((120, 120, 360, 230), fill=(235, 235, 235))
    path = folder / "photo.jpg"
    out = io.BytesIO()
    picture.save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def store_photo(stack: Stack) -> str:
    """What the WhatsApp connector does with a received photo: strip, store, record; its id."""
    return run_python(stack, "-c", "import pathlib, sys; from satark import media; "
                      "print(media.store(pathlib.Path(sys.argv[1]).read_bytes(), 'image', 'image/jpeg'))",
                      str(photo(stack.workdir))).strip()


class Citizen:
    def __init__(self, rasa_url: str) -> None:
        self.url = rasa_url + "/webhooks/rest/webhook"
        self.sender = uuid.uuid4().hex

    def say(self, text: str) -> str:
        response = requests.post(self.url, json={"sender": self.sender, "message": text}, timeout=60)
        response.raise_for_status()
        return "\n".join(m.get("text", "") for m in response.json())


def report_with_photo(stack: Stack) -> str:
    """A cattle smuggling report in Ghazipur with a photo, through the REST channel; its number."""
    citizen = Citizen(stack.services["rasa"].url)
    citizen.say("Hi")
    citizen.say("/language_english")
    assert "Cattle smuggling" in citizen.say(
        "Every night a truck full of cows is taken from our village towards the Bihar border")
    for answer in ("/affirm", "gazipur", "Near the Zamania railway crossing"):  # "every night" was said
        citizen.say(answer)
    assert "evidence" in citizen.say("A white truck without a number plate, three men, around 2 am").lower()
    evidence_id = store_photo(stack)
    summary = citizen.say("/share_evidence" + json.dumps({"evidence_id": evidence_id}))
    assert "1 file" in summary  # the file is acknowledged, then the summary
    assert "Zamania" in summary, summary
    return re.search(r"Report number: (\S+)", citizen.say("/affirm")).group(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
    assert MODEL.exists(), f"{MODEL} is missing: run `make train` first"
    workdir = tmp_path_factory.mktemp("browser")
    dashboard_port = free_port()
    stack = Stack(workdir, env={
        "DATABASE_URL": f"sqlite:///{workdir / 'satark.db'}", "SATARK_VAR_DIR": str(workdir / "var"),
        "SATARK_DEV_MODE": "true", **DEFAULTS, "DASHBOARD_PUBLIC_URL": f"http://127.0.0.1:{dashboard_port}",
        "DASHBOARD_REFRESH_SECONDS": "2"})
    try:
        stack.prepare_database()
        stack.start_action_server()
        stack.start_sandbox()
        # The WhatsApp channel too: the sandbox's delivery receipts for forwards come through its webhook.
        stack.start_rasa(credentials={"channels.whatsapp.WhatsAppInput": {
            "verify_token": "${WHATSAPP_VERIFY_TOKEN}", "app_secret": "${WHATSAPP_APP_SECRET}",
            "access_token": "${WHATSAPP_ACCESS_TOKEN}", "phone_number_id": "${WHATSAPP_PHONE_NUMBER_ID}",
            "api_url": "${WHATSAPP_API_URL}"}})
        for username, office in (("sp-gzp", "SP-GZP"), ("sp-jnp", "SP-JNP")):
            run_python(stack, "-m", "satark.users", "add", username, "--office", office, "--role", "sp",
                       stdin=PASSWORD + "\n")
        dashboard = stack._spawn("dashboard", [
            str(VENV_BIN / "streamlit"), "run", "dashboard/app.py", "--server.port", str(dashboard_port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none"], dashboard_port)
        stack._wait(dashboard, "/_stcore/health", 60)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def choose(page: Page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option).click()


def templates(stack: Stack, number: str) -> list[dict]:
    sent = requests.get(stack.services["sandbox"].url + "/_sandbox/templates", timeout=10).json()
    return [entry for entry in sent if number in json.dumps(entry)]


def test_sp_office_handles_a_report_in_the_browser_and_another_district_cannot_open_it(stack, browser):
    number = report_with_photo(stack)
    dashboard = stack.services["dashboard"].url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(dashboard)
    sign_in(page, "sp-gzp")
    expect(page.get_by_role("heading", name="Inbox — SP Office, Ghazipur")).to_be_visible()

    # An officer for the district, added on the Officers page; the list shows the number masked.
    page.get_by_role("link", name="Officers").click()
    page.get_by_label("Name").fill("Ram Singh")
    page.get_by_label("Rank").fill("SI")
    page.get_by_label("WhatsApp number").fill(OFFICER_PHONE)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Officer saved.")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"] table')).to_contain_text("2345")
    expect(page.locator('[data-testid="stDataFrame"] table')).not_to_contain_text("98390")

    # The inbox lists the report; a click on its row opens it.
    page.get_by_role("link", name="Inbox").click()
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table.locator("table")).to_contain_text(number)
    expect(table.locator("table")).to_contain_text("Cattle smuggling")
    page.wait_for_timeout(500)  # the canvas grid paints after its accessible table
    page.screenshot(path=SCREENSHOTS / "inbox.png")
    box = table.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the row marker of the first (only) row
    expect(page.get_by_role("heading", name=f"Report {number}")).to_be_visible()
    assert page.url.endswith(f"/report?number={number}")

    image = page.locator('[data-testid="stImage"] img').first
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 480", arg=image.element_handle())

    choose(page, "New status", "Seen by the police")
    page.get_by_role("button", name="Update status").click()
    expect(page.get_by_text("Status updated.")).to_be_visible()
    expect(page.get_by_text("Seen by the police").first).to_be_visible()

    forward = page.get_by_role("button", name="Forward on WhatsApp")
    expect(forward).to_have_count(1)  # the rerun after the status change has replaced the old form
    forward.click()
    expect(page.get_by_text("Forwarded to Ram Singh.")).to_be_visible()
    deadline = time.monotonic() + 30
    while not templates(stack, number) and time.monotonic() < deadline:
        time.sleep(0.5)
    [template] = templates(stack, number)
    assert template["to"] == "919839012345"
    assert f"/report?number={number}" in json.dumps(template) and "Zamania" in json.dumps(template)
    # The sandbox's receipts reach the forward through the webhook; the page shows them.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.get_by_role("button", name="Reload").click()
        page.wait_for_timeout(1000)
        if page.get_by_text(re.compile(r"Ram Singh — .* — delivered")).count():
            break
    expect(page.get_by_text(re.compile(r"Ram Singh — .* — delivered"))).to_be_visible()
    expect(page.get_by_text("Assigned to an officer").first).to_be_visible()
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.wait_for_timeout(500)
    page.screenshot(path=SCREENSHOTS / "report.png")

    # A new urgent report appears in the open inbox by itself, with an alert.
    page.get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Inbox — SP Office, Ghazipur")).to_be_visible()
    urgent = run_python(stack, "-c", "from tests.support.police import submit; "
                        "print(submit('GZP', urgent=True).public_number)").strip()
    expect(page.get_by_text(f"New urgent report(s): {urgent}").first).to_be_visible(timeout=20_000)
    expect(page.locator('[data-testid="stDataFrame"] table')).to_contain_text(urgent)
    page.close()

    # Jaunpur's SP office, following a link to the Ghazipur report: asked to sign in, then refused.
    other = browser.new_page(viewport={"width": 1400, "height": 1000})
    other.set_default_timeout(TIMEOUT_MS)
    other.goto(f"{dashboard}/report?number={number.lower()}")
    expect(other.get_by_text(f"Sign in to open report {number}")).to_be_visible()
    sign_in(other, "sp-jnp")
    expect(other.get_by_text("No such report.")).to_be_visible()
    expect(other.get_by_text("Zamania")).to_have_count(0)
    other.goto(f"{dashboard}/report?number=JNP-2026-99999")  # a missing number answers the same
    sign_in(other, "sp-jnp")  # a new page load is a new session
    expect(other.get_by_text("No such report.")).to_be_visible()
    other.close()
