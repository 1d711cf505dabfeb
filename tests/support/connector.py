"""The real WhatsApp connector in a real Sanic server, and the sandbox Graph API, on loopback.

Both run in one background event loop; tests talk to them over HTTP like WhatsApp and Meta
would. The dialogue is replaced by `bot`, a plain function that receives each `UserMessage`
the connector produces (and may answer through its output channel), so connector behaviour can
be tested without a trained model.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.whatsapp import WhatsAppInput
from sandbox import payloads
from sandbox.server import Sandbox, SandboxConfig
from satark.db.models import Base
from satark.db.session import get_engine, get_session_factory
from satark.deployment import get_deployment_settings
from satark.settings import get_settings
from tests.support.servers import free_port

# Random-looking values: outside development mode (as here) weak secrets are refused.
APP_SECRET = "q8Zr2vLx7NwK4pTf9HcY3mJd6GsB1uEa"
VERIFY_TOKEN = "Vt5nR8wQ2zLk7XpC4fHj9MbD3sGy6TeA"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
ANONYMIZATION_KEY = "aK7mP2xR9vL4qW8nZ3tB6yH1cJ5fD0gS-e4Yt"
RECEIPT_SECRET = "Rc3Xv8Nq5Lm2Wz7Kp4Tj9Hf6Bd1Gs0Ya-u7Ei"
_names = itertools.count()

Bot = Callable[[UserMessage], Awaitable[Any]]


def _clear_caches() -> None:
    for cached in (get_settings, get_engine, get_session_factory, get_deployment_settings):
        cached.cache_clear()


@contextmanager
def isolated_system(folder: Path, **env: str) -> Iterator[Path]:
    """Settings for in-process tests: own runtime folder, SQLite database and keys (not dev mode)."""
    saved = dict(os.environ)
    os.environ.update({
        "SATARK_VAR_DIR": str(folder), "DATABASE_URL": f"sqlite:///{folder / 'satark.db'}",
        "MEDIA_DIR": str(folder / "media"), "SATARK_DEV_MODE": "0",
        "ANONYMIZATION_KEY": ANONYMIZATION_KEY, "RECEIPT_SECRET": RECEIPT_SECRET,
        **env,
    })
    _clear_caches()
    Base.metadata.create_all(get_engine())
    try:
        yield folder
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _clear_caches()


async def scripted_bot(message: UserMessage) -> None:
    """Stands in for the dialogue: `menu N` offers N buttons, `long N` sends N characters,
    anything else is acknowledged, so every outbound path can be driven from a test."""
    text, out, sender = message.text or "", message.output_channel, message.sender_id
    command, _, argument = text.partition(" ")
    if command == "menu":
        buttons = [{"title": f"Option {i} — a title longer than twenty characters",
                    "payload": f'/choose_category{{"category":"c{i}"}}'} for i in range(int(argument))]
        await out.send_text_with_buttons(sender, "Pick one", buttons)
    elif command == "long":
        await out.send_text_message(sender, ("word " * int(argument))[: int(argument)])
    else:
        await out.send_text_message(sender, f"got: {text}")


class ConnectorHarness:
    """Start with `start()`, stop with `stop()`; `received` lists what reached the dialogue."""

    def __init__(self, bot: Bot | None = None, **credentials: Any) -> None:
        self.bot = bot
        self.credentials = credentials
        self.received: list[UserMessage] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.sandbox_port, self.rasa_port = free_port(), free_port()
        self.sandbox = Sandbox(SandboxConfig(
            verify_token=VERIFY_TOKEN, app_secret=APP_SECRET, access_token=ACCESS_TOKEN,
            phone_number_id=PHONE_NUMBER_ID, webhook_url=f"{self.base}/webhook"))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/whatsapp"

    @property
    def graph(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def _run(self, coroutine: Awaitable[Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _on_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.bot is not None:
            await self.bot(message)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.sandbox.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.sandbox_port).start()
        credentials = {
            "verify_token": VERIFY_TOKEN, "app_secret": APP_SECRET, "access_token": ACCESS_TOKEN,
            "phone_number_id": PHONE_NUMBER_ID, "api_url": f"{self.graph}/v22.0",
            "retry_backoff_seconds": 0.01, **self.credentials,
        }
        self.channel = WhatsAppInput.from_credentials(credentials)
        Sanic.test_mode = True  # lets several apps start in one process (Sanic's touch-up runs once)
        app = Sanic(f"whatsapp_test_{next(_names)}", configure_logging=False)
        blueprint = self.channel.blueprint(self._on_message)
        self.runtime = blueprint.ctx.runtime
        app.blueprint(blueprint, url_prefix="/webhooks/whatsapp")
        self._server = await app.create_server(host="127.0.0.1", port=self.rasa_port,
                                               return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    def start(self) -> ConnectorHarness:
        self.thread.start()
        self._run(self._start())
        return self

    async def _stop(self) -> None:
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()
        await self._runner.cleanup()

    def stop(self) -> None:
        self._run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    # -- acting as WhatsApp ------------------------------------------------------------------------

    def post(self, payload: Any, *, secret: str = APP_SECRET, signature: str | None = None,
             raw: bytes | None = None) -> requests.Response:
        """POST a webhook as Meta does (signed with the app secret unless told otherwise)."""
        body = raw if raw is not None else payloads.encode(payload)
        headers = {"Content-Type": "application/json"}
        header = signature if signature is not None else payloads.sign(body, secret)
        if header:
            headers["X-Hub-Signature-256"] = header
        return requests.post(f"{self.base}/webhook", data=body, headers=headers, timeout=10)

    def user(self, wa_id: str, name: str, *messages: dict[str, Any]) -> dict[str, Any]:
        return payloads.user_messages(PHONE_NUMBER_ID, wa_id, name, list(messages))

    def say(self, wa_id: str, *messages: dict[str, Any], name: str = "Test User") -> requests.Response:
        """Send messages from one user and wait until the connector has handled them."""
        response = self.post(self.user(wa_id, name, *messages))
        assert response.status_code == 200, response.text
        self.settle()
        return response

    def received_from(self, wa_id: str) -> list[UserMessage]:
        sender = self.channel.config.anonymizer.sender_id(wa_id=wa_id)
        return [m for m in self.received if m.sender_id == sender]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.02)

    def settle(self) -> None:
        """Wait until every acknowledged message has been handled."""
        self.wait_for(self.runtime.idle)

    # -- acting as Meta's side ---------------------------------------------------------------------

    def upload(self, data: bytes, mime_type: str, **options: Any) -> tuple[str, str]:
        reply = requests.post(f"{self.graph}/_sandbox/media", data=data,
                              params={"mime_type": mime_type, **options}, timeout=10).json()
        return reply["id"], reply["sha256"]

    def faults(self, **endpoints: list[int]) -> None:
        requests.post(f"{self.graph}/_sandbox/faults", json=endpoints, timeout=10).raise_for_status()

    def graph_requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        recorded = requests.get(f"{self.graph}/_sandbox/requests", timeout=10).json()
        return [r for r in recorded if endpoint is None or r["endpoint"] == endpoint]

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Messages the Graph API accepted from the connector (to one number, if given)."""
        return [r["json"] for r in self.graph_requests("messages")
                if r["status"] == 200 and (to is None or r["json"].get("to") == to)]

    def reset_graph(self) -> None:
        requests.delete(f"{self.graph}/_sandbox/requests", timeout=10).raise_for_status()
