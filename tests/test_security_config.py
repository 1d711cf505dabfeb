"""Doors that must stay closed outside development mode: secrets, Rasa's API, the REST channel, the
action server, file permissions, and logs that stay free of identities at DEBUG level."""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
import zlib

import pytest
import requests
import yaml

from channels.dev_rest import DevRestInput
from channels.whatsapp import WhatsAppConfig
from satark import preflight
from satark.logs import configure_logging
from satark.preflight import UnsafeStart
from satark.secret_policy import secret_problem
from satark.settings import get_receipt_secret, get_settings
from tests.support import media_fixtures
from tests.support.connector import ANONYMIZATION_KEY, APP_SECRET, RECEIPT_SECRET, VERIFY_TOKEN
from tests.support.servers import ROOT, VENV_BIN, Stack, free_port

STRONG = {"ANONYMIZATION_KEY": ANONYMIZATION_KEY, "RECEIPT_SECRET": RECEIPT_SECRET,
          "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN}


@pytest.fixture
def production(monkeypatch):
    """Outside development mode, with strong secrets unless a test weakens one."""
    monkeypatch.setenv("SATARK_DEV_MODE", "false")
    for name, value in STRONG.items():
        monkeypatch.setenv(name, value)
    for name in ("RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "ACTIONS_HOST"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    get_receipt_secret.cache_clear()
    yield
    get_settings.cache_clear()
    get_receipt_secret.cache_clear()


# -- secrets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["", "change-me", "short", "r" * 40, "receipt-" + "5" * 40,
                                   "my-production-secret-for-satark-mitra", "0123456789" * 4,
                                   "changeme-" + "a1b2c3d4e5f6" * 3])
def test_weak_secrets_are_refused(value):
    assert secret_problem(value) is not None


def test_random_secrets_pass():
    import secrets

    for _ in range(50):
        assert secret_problem(secrets.token_hex(16)) is None
        assert secret_problem(secrets.token_urlsafe(32)) is None


def test_receipt_secret_must_be_strong_outside_development_mode(production, monkeypatch):
    monkeypatch.setenv("RECEIPT_SECRET", "r" * 40)
    with pytest.raises(RuntimeError, match="RECEIPT_SECRET"):
        get_receipt_secret()


@pytest.mark.parametrize("field", ["app_secret", "verify_token"])
def test_connector_refuses_weak_webhook_secrets(production, field):
    credentials = {"verify_token": VERIFY_TOKEN, "app_secret": APP_SECRET, "access_token": "t",
                   "phone_number_id": "1", field: "change-me"}
    with pytest.raises(UnsafeStart, match=f"WHATSAPP_{field.upper()}"):
        WhatsAppConfig.from_credentials(credentials)


# -- what `rasa run` and the action server may open ------------------------------------------------

def test_rasa_api_only_with_a_strong_token(production, monkeypatch):
    assert any("--auth-token" in p for p in preflight.problems(["rasa"], argv=["rasa", "run", "--enable-api"]))
    assert preflight.problems(["rasa"], argv=["rasa", "run", "--enable-api", "--auth-token", APP_SECRET]) == []
    assert preflight.problems(["rasa"], argv=["rasa", "run", "--enable-api", "--auth-token", "letmein"])
    monkeypatch.setenv("RASA_API_TOKEN", "token")
    assert any("RASA_API_TOKEN" in p for p in preflight.problems(["rasa"]))


def test_rest_channel_is_refused_outside_development_mode(production, tmp_path):
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("rest:\nchannels.whatsapp.WhatsAppInput:\n  app_secret: x\n")
    found = preflight.problems(["rasa"], argv=["rasa", "run", "--credentials", str(credentials)])
    assert any("'rest' channel" in p for p in found)
    assert preflight.problems(["rasa"], argv=["rasa", "run", "--credentials", str(ROOT / "credentials.yml")]) == []


def test_development_rest_channel_has_no_webhook_outside_development_mode(production, monkeypatch):
    async def ignore(_message):
        return None

    assert not DevRestInput().blueprint(ignore)._future_routes
    monkeypatch.setenv("SATARK_DEV_MODE", "true")
    get_settings.cache_clear()
    assert {route.uri for route in DevRestInput().blueprint(ignore)._future_routes} >= {"/webhook"}


def test_action_server_off_loopback_needs_a_token(production, monkeypatch):
    monkeypatch.setenv("ACTIONS_HOST", "0.0.0.0")
    assert any("ACTION_SERVER_TOKEN" in p for p in preflight.problems(["actions"]))
    monkeypatch.setenv("ACTION_SERVER_TOKEN", APP_SECRET)
    assert preflight.problems(["actions"]) == []
    assert preflight.is_loopback("127.0.0.1") and preflight.is_loopback("::1") and not preflight.is_loopback("10.0.0.5")


def test_nothing_is_refused_in_development_mode(monkeypatch):
    monkeypatch.setenv("SATARK_DEV_MODE", "true")
    monkeypatch.setenv("ACTIONS_HOST", "0.0.0.0")
    get_settings.cache_clear()
    try:
        assert preflight.problems(["rasa", "actions"], argv=["rasa", "run", "--enable-api"]) == []
    finally:
        get_settings.cache_clear()


def test_preflight_command_says_why_and_fails(production, monkeypatch):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WHATSAPP_APP_SECRET": "change-me"}
    result = subprocess.run([str(VENV_BIN / "python"), "-m", "satark.preflight", "rasa", "actions"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "WHATSAPP_APP_SECRET" in result.stderr and "placeholder" in result.stderr


def test_run_script_binds_locally_and_opens_the_api_only_with_a_token():
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert 'RASA_HOST="${RASA_HOST:-127.0.0.1}"' in script and '-i "$RASA_HOST"' in script
    assert 'ACTIONS_HOST="${ACTIONS_HOST:-127.0.0.1}"' in script and "satark.action_server" in script
    assert 'DASHBOARD_HOST="${DASHBOARD_HOST:-127.0.0.1}"' in script and '--server.address "$DASHBOARD_HOST"' in script
    assert "--enable-api" not in script and "--auth-token" not in script and "-m satark.rasa_server" in script
    assert "umask 077" in script and "satark.preflight" in script and "satark.retention --every-hours 24" in script
    assert "rest" not in yaml.safe_load((ROOT / "credentials.yml").read_text())


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    """`python -m satark.action_server` outside development mode, with a token."""
    folder = tmp_path_factory.mktemp("actions")
    stack = Stack(folder, env={**STRONG, "SATARK_DEV_MODE": "false", "SATARK_VAR_DIR": str(folder / "var"),
                               "DATABASE_URL": f"sqlite:///{folder / 'satark.db'}", "ACTION_SERVER_TOKEN": APP_SECRET,
                               "ACTION_SERVER_MAX_BODY_BYTES": str(256 * 1024)})
    try:
        yield stack.start_action_server()
    finally:
        stack.stop()


def test_action_server_answers_only_rasa(action_server):
    url = action_server.url
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    assert requests.get(f"{url}/actions", timeout=5).status_code == 401
    assert requests.post(f"{url}/webhook?token=wrong", json={}, timeout=5).status_code == 401
    listed = requests.get(f"{url}/actions", params={"token": APP_SECRET}, timeout=5)
    assert listed.status_code == 200 and {"name": "action_check_status"} in listed.json()


def test_action_server_bounds_bodies_and_compression(action_server):
    url, token = f"{action_server.url}/webhook", {"token": APP_SECRET}
    bomb = zlib.compress(b"{" + b" " * (64 * 1024 * 1024) + b"}", 9)  # 64 MB inflated, ~64 KB sent
    assert len(bomb) < 256 * 1024
    response = requests.post(url, params=token, data=bomb, timeout=30,
                             headers={"Content-Encoding": "deflate", "Content-Type": "application/json"})
    assert response.status_code == 413
    assert requests.post(url, params=token, data=b"x" * (300 * 1024), timeout=30).status_code == 413
    assert requests.post(url, params=token, data=b"{}", timeout=5, headers={"Content-Encoding": "gzip"}
                         ).status_code == 415
    assert requests.get(f"{action_server.url}/health", timeout=5).status_code == 200  # still up


def test_action_server_refuses_to_listen_on_all_interfaces_without_a_token(tmp_path):
    env = {**os.environ, **STRONG, "PYTHONPATH": str(ROOT), "SATARK_DEV_MODE": "false",
           "SATARK_VAR_DIR": str(tmp_path)}
    env.pop("ACTION_SERVER_TOKEN", None)
    result = subprocess.run([str(VENV_BIN / "python"), "-m", "satark.action_server", "--host", "0.0.0.0",
                             "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "ACTION_SERVER_TOKEN" in result.stderr
    result = subprocess.run([str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port",
                             str(free_port())], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "satark.action_server" in result.stdout + result.stderr


# -- files and logs --------------------------------------------------------------------------------

def test_services_write_owner_only_files(tmp_path):
    folder = tmp_path / "var"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SATARK_DEV_MODE": "true", "SATARK_VAR_DIR": str(folder),
           "DATABASE_URL": f"sqlite:///{folder / 'db' / 'satark.db'}"}
    previous = os.umask(0o022)  # started from a permissive shell
    try:
        subprocess.run([str(VENV_BIN / "python"), "-m", "satark.db.migrate"], env=env, check=True,
                       capture_output=True, timeout=120)
    finally:
        os.umask(previous)
    database = folder / "db" / "satark.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    configure_logging()
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_identities_and_codes_are_redacted_from_every_log_record(captured_logs):
    log = logging.getLogger("some.library")
    log.debug("message from %s (%s) with id %s", "+91 98765 43210", "919876543210", "wamid.HBgLOTE5ODc2NTQ")
    log.info("status K7QM-4XPA-9TRC for GZP-2026-7K3QX, also k7qm4xpa9trc")
    log.debug("SlotSet(key: draft_id, value: %s)", "9f0c2b7d4e6a48c1b3d5f7a9c0e2b4d6")
    try:
        raise ValueError("number 9876543210 refused")
    except ValueError:
        log.exception("failed for 919876543210")
    text = captured_logs.getvalue()
    for secret in ("98765", "9876543210", "wamid.HBg", "K7QM", "k7qm", "7K3QX", "9f0c2b7d"):
        assert secret not in text
    assert "[number]" in text and "[code]" in text and "ValueError" in text


def test_image_decoding_logs_nothing_identifying_at_debug_level(captured_logs):
    from satark import media

    for fmt, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png")):
        media.strip_image(media_fixtures.photo(fmt), mime)
    assert logging.getLogger("PIL").getEffectiveLevel() >= logging.WARNING
    text = captured_logs.getvalue()
    assert not [n for n in media_fixtures.NEEDLES if n in text]
