"""A stand-in for the WhatsApp Cloud (Graph) API on loopback, plus a chat page for testers.

Graph API side (what the connector calls): `POST /{version}/{phone_number_id}/messages` checks the
bearer token and the message shape the way Meta does (button and list limits, body lengths) and
records it; `GET /{version}/{media_id}` answers media info with a download URL that expires;
`GET /_media/{token}` serves the file (bearer token required).

Control side (what tests and the chat page call): `/_sandbox/media` stores a file and returns its
media id, `/_sandbox/faults` queues HTTP errors for the next calls, `/_sandbox/requests` lists
everything recorded. The chat page (`/`) sends signed webhooks to the connector like WhatsApp.

Officers' side: template messages (reports forwarded to officers) are listed at `/officer` and as
JSON at `/_sandbox/templates`; like Meta, the stand-in then posts delivery receipts (sent,
delivered) to the webhook, and "read" when the tester opens one (`POST /_sandbox/templates/read`
with `{"id": message id}`: WhatsApp ids hold "/" and "+", so not in the path).

Everything stays in memory; nothing is written to disk or logged with a phone number.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sandbox import payloads
from satark.settings import get_settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
API_VERSION = "v22.0"

# Values `make run` uses when no real WhatsApp credentials are configured (`python -m sandbox env`).
DEFAULTS = {
    "WHATSAPP_VERIFY_TOKEN": "sandbox-verify-token",
    "WHATSAPP_APP_SECRET": "sandbox-app-secret",
    "WHATSAPP_ACCESS_TOKEN": "sandbox-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
}
DEFAULT_WEBHOOK = "http://127.0.0.1:5005/webhooks/whatsapp/webhook"


@dataclass(frozen=True)
class SandboxConfig:
    verify_token: str = DEFAULTS["WHATSAPP_VERIFY_TOKEN"]
    app_secret: str = DEFAULTS["WHATSAPP_APP_SECRET"]
    access_token: str = DEFAULTS["WHATSAPP_ACCESS_TOKEN"]
    phone_number_id: str = DEFAULTS["WHATSAPP_PHONE_NUMBER_ID"]
    webhook_url: str = DEFAULT_WEBHOOK
    url_ttl_seconds: float = 300.0
    receipt_delay_seconds: float = 0.3  # between accepting a template and each delivery receipt

    @classmethod
    def from_env(cls, webhook_url: str | None = None) -> SandboxConfig:
        """The settings' WhatsApp values where set, else the sandbox defaults."""
        settings = get_settings()

        def env(name: str) -> str:
            return settings.whatsapp.get(name) or DEFAULTS[name]

        return cls(env("WHATSAPP_VERIFY_TOKEN"), env("WHATSAPP_APP_SECRET"), env("WHATSAPP_ACCESS_TOKEN"),
                   env("WHATSAPP_PHONE_NUMBER_ID"),
                   webhook_url or settings.sandbox_webhook_url or DEFAULT_WEBHOOK)


@dataclass
class StoredMedia:
    data: bytes
    mime_type: str
    sha256: str  # what Meta reports; tests may set a wrong one
    file_size: int


@dataclass
class SandboxState:
    media: dict[str, StoredMedia] = field(default_factory=dict)
    urls: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (media id, expiry)
    faults: dict[str, deque[int]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)


def _error(status: int, code: int, message: str, details: str = "") -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "fbtrace_id": secrets.token_urlsafe(12)}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return web.json_response({"error": error}, status=status)


def _invalid(details: str) -> web.Response:
    return _error(400, 131009, "(#131009) Parameter value is not valid", details)


def check_message(message: dict[str, Any]) -> str | None:
    """What Meta would reject in an outbound message, or None when it is acceptable."""
    if message.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if not (message.get("to") or message.get("recipient")):
        return "to or recipient is required"
    kind = message.get("type", "text")
    body = message.get(kind)
    if not isinstance(body, dict):
        return f"{kind} object is required"
    if kind == "text":
        text = body.get("body") or ""
        return None if 0 < len(text) <= 4096 else "text.body must have 1 to 4096 characters"
    if kind == "interactive":
        return _check_interactive(body)
    if kind == "template":
        return _check_template(body)
    if kind in ("image", "audio", "video", "document", "sticker"):
        return None if body.get("link") or body.get("id") else f"{kind}.link or {kind}.id required"
    return f"type {kind} is not supported by the sandbox"


def _check_template(body: dict[str, Any]) -> str | None:
    if not (body.get("name") and isinstance(body.get("language"), dict) and body["language"].get("code")):
        return "template name and language code required"
    for component in body.get("components") or []:
        for parameter in component.get("parameters") or []:
            text = parameter.get("text") if parameter.get("type") == "text" else "x"
            if not isinstance(text, str) or not text:
                return "template text parameters must not be empty"
            if "\n" in text or "\t" in text or "     " in text:
                return "template parameters must not contain newlines, tabs or more than 4 consecutive spaces"
    return None


def _template_texts(body: dict[str, Any]) -> list[str]:
    return [str(p.get("text", "")) for c in body.get("components") or [] for p in c.get("parameters") or []]


def _check_interactive(body: dict[str, Any]) -> str | None:
    text = (body.get("body") or {}).get("text") or ""
    if not 0 < len(text) <= 1024:
        return "interactive body.text must have 1 to 1024 characters"
    action = body.get("action") or {}
    if body.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            return "reply buttons: 1 to 3 buttons"
        replies = [b.get("reply") or {} for b in buttons]
        if any(not 0 < len(r.get("title") or "") <= 20 for r in replies):
            return "reply button title must have 1 to 20 characters"
        if any(not 0 < len(r.get("id") or "") <= 256 for r in replies):
            return "reply button id must have 1 to 256 characters"
        if len({r["title"] for r in replies}) != len(replies) or len({r["id"] for r in replies}) != len(replies):
            return "reply button titles and ids must be unique"
        return None
    if body.get("type") == "list":
        if not 0 < len(action.get("button") or "") <= 20:
            return "list button label must have 1 to 20 characters"
        rows = [row for section in action.get("sections") or [] for row in section.get("rows") or []]
        if not 1 <= len(rows) <= 10:
            return "list: 1 to 10 rows in total"
        if any(not 0 < len(r.get("title") or "") <= 24 for r in rows):
            return "list row title must have 1 to 24 characters"
        if any(len(r.get("description") or "") > 72 for r in rows):
            return "list row description must have at most 72 characters"
        if any(not 0 < len(r.get("id") or "") <= 200 for r in rows) or len({r["id"] for r in rows}) != len(rows):
            return "list row ids must be unique, 1 to 200 characters"
        return None
    return f"interactive type {body.get('type')} is not supported by the sandbox"


def digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


class Sandbox:
    """The stand-in's state and routes; `app()` gives the aiohttp application."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState()
        self._tasks: set[asyncio.Task] = set()

    # -- helpers -------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        expected = f"Bearer {self.config.access_token}".encode()
        return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)

    def _fault(self, endpoint: str) -> int | None:
        queue = self.state.faults.get(endpoint)
        return queue.popleft() if queue else None

    def _record(self, endpoint: str, request: web.Request, status: int, body: Any = None) -> None:
        self.state.requests.append({"endpoint": endpoint, "method": request.method, "path": request.path,
                                    "status": status, "json": body, "time": time.time()})

    @staticmethod
    def _fault_response(status: int) -> web.Response:
        if status == 429:
            response = _error(429, 130429, "(#130429) Rate limit hit")
            response.headers["Retry-After"] = "0"
            return response
        if status >= 500:
            return _error(status, 131000, "(#131000) Something went wrong")
        return _error(status, 100, f"(#100) Sandbox fault {status}")

    def add_media(self, data: bytes, mime_type: str, sha256: str | None = None,
                  file_size: int | None = None) -> tuple[str, str]:
        """Store a file as WhatsApp would after a user sent it; (media id, sha256 as base64)."""
        media_id = str(secrets.randbelow(10**15) + 10**15)
        actual = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self.state.media[media_id] = StoredMedia(data, mime_type, sha256 or actual,
                                                 len(data) if file_size is None else file_size)
        return media_id, sha256 or actual

    # -- Graph API -----------------------------------------------------------------------------

    async def send_message(self, request: web.Request) -> web.Response:
        try:
            # JSON is UTF-8: aiohttp's request.json() first parses the Content-Type header with the
            # email package, which took a quarter of the load benchmark's own CPU per reply.
            message = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            message = None
        if not self._authorized(request):
            self._record("messages", request, 401, message)
            return _error(401, 190, "Invalid OAuth access token.")
        if request.match_info["phone_number_id"] != self.config.phone_number_id:
            self._record("messages", request, 400, message)
            return _error(400, 100, "(#100) Unknown phone number id")
        fault = self._fault("messages")
        if fault and fault > 0:
            self._record("messages", request, fault, message)
            return self._fault_response(fault)
        problem = check_message(message) if isinstance(message, dict) else "JSON body required"
        if problem:
            self._record("messages", request, 400, message)
            return _invalid(problem)
        self._record("messages", request, 200, message)
        if fault:  # a negative fault: delivered, but the answer comes -fault seconds late
            await asyncio.sleep(-fault)
        recipient = message.get("to") or message.get("recipient")
        message_id = payloads.message_id()
        if message.get("type") == "template":
            self._receive_template(message_id, digits(str(recipient)), message["template"],
                                   message.get("biz_opaque_callback_data"))
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": recipient, "wa_id": digits(str(recipient))}],
                                  "messages": [{"id": message_id}]})

    # -- officers' side: templates and their delivery receipts ---------------------------------

    def _receive_template(self, message_id: str, wa_id: str, template: dict[str, Any],
                          callback_data: str | None) -> None:
        entry = {"id": message_id, "to": wa_id, "callback_data": callback_data, "name": template.get("name"),
                 "language": template["language"].get("code"), "parameters": _template_texts(template),
                 "time": time.time(), "statuses": []}
        self.state.templates.append(entry)
        task = asyncio.get_running_loop().create_task(self._receipts(entry, ("sent", "delivered")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _receipts(self, entry: dict[str, Any], statuses: tuple[str, ...]) -> None:
        """Delivery receipts as Meta posts them, a moment after the message was accepted."""
        for status in statuses:
            await asyncio.sleep(self.config.receipt_delay_seconds)
            webhook_status = await self.post_webhook(payloads.statuses(
                self.config.phone_number_id, entry["to"], entry["id"], status, entry["callback_data"]))
            entry["statuses"].append({"status": status, "webhook_status": webhook_status})

    async def list_templates(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.templates)

    async def read_template(self, request: web.Request) -> web.Response:
        """The officer opened the message: a "read" receipt goes to the webhook."""
        message_id = (await request.json()).get("id")
        entry = next((t for t in self.state.templates if t["id"] == message_id), None)
        if entry is None:
            return web.json_response({"error": "no such template message"}, status=404)
        await self._receipts(entry, ("read",))
        return web.json_response(entry)

    async def officer_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "officer.html")

    async def media_info(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        if not self._authorized(request):
            self._record("media_info", request, 401)
            return _error(401, 190, "Invalid OAuth access token.")
        fault = self._fault("media_info")
        stored = self.state.media.get(media_id)
        if fault or stored is None:
            self._record("media_info", request, fault or 404)
            return self._fault_response(fault) if fault else _error(
                404, 100, "(#100) Unsupported get request. Object does not exist")
        token = secrets.token_urlsafe(16)
        self.state.urls[token] = (media_id, time.time() + self.config.url_ttl_seconds)
        self._record("media_info", request, 200)
        return web.json_response({
            "messaging_product": "whatsapp", "id": media_id, "mime_type": stored.mime_type,
            "sha256": base64.b64decode(stored.sha256).hex() if len(stored.sha256) == 44 else stored.sha256,
            "file_size": stored.file_size,
            "url": f"{request.scheme}://{request.host}/_media/{token}?ext=sandbox",
        })

    async def download(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            self._record("download", request, 401)
            return _error(401, 190, "Invalid OAuth access token.")
        fault = self._fault("download")
        media_id, expiry = self.state.urls.get(request.match_info["token"], ("", 0.0))
        if fault or expiry < time.time() or media_id not in self.state.media:
            self._record("download", request, fault or 404)
            return self._fault_response(fault) if fault else web.Response(status=404, text="URL expired")
        self._record("download", request, 200)
        stored = self.state.media[media_id]
        return web.Response(body=stored.data, content_type=stored.mime_type)

    # -- control API ---------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        """Raw body = the file; `?mime_type=` and optionally a wrong `sha256` or `file_size`."""
        query = request.query
        media_id, sha = self.add_media(await request.read(), query.get("mime_type", "application/octet-stream"),
                                       query.get("sha256"),
                                       int(query["file_size"]) if "file_size" in query else None)
        return web.json_response({"id": media_id, "sha256": sha})

    async def faults(self, request: web.Request) -> web.Response:
        """`{"messages": [429, 500], "media_info": [404], "download": [404]}` for the next calls; a
        negative number -N on `messages` delivers the message but answers N seconds late (a timeout)."""
        for endpoint, statuses in (await request.json()).items():
            self.state.faults.setdefault(endpoint, deque()).extend(int(s) for s in statuses)
        return web.json_response({"status": "ok"})

    async def list_requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.requests)

    async def reset(self, request: web.Request) -> web.Response:
        self.state.requests.clear()
        self.state.faults.clear()
        self.state.templates.clear()
        return web.json_response({"status": "ok"})

    # -- chat page -----------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "chat.html")

    async def post_webhook(self, payload: dict[str, Any]) -> int:
        """Deliver a payload to the connector, signed as Meta signs it; the HTTP status."""
        body = payloads.encode(payload)
        headers = {"Content-Type": "application/json",
                   "X-Hub-Signature-256": payloads.sign(body, self.config.app_secret)}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                async with session.post(self.config.webhook_url, data=body, headers=headers) as response:
                    return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 502

    def _chat_message(self, data: dict[str, Any]) -> dict[str, Any]:
        kind = data.get("kind")
        if kind == "text":
            return payloads.text(str(data.get("text", "")))
        if kind == "button":
            return payloads.button_reply(str(data["id"]), str(data.get("title", "")))
        if kind == "list":
            return payloads.list_reply(str(data["id"]), str(data.get("title", "")),
                                       str(data.get("description", "")))
        if kind == "location":
            return payloads.location(float(data["latitude"]), float(data["longitude"]),
                                     str(data.get("name", "")), str(data.get("address", "")))
        if kind == "sticker":
            media_id, sha = self.add_media(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp")
            return payloads.media("sticker", media_id, "image/webp", sha)
        if kind == "contacts":
            return payloads.contacts("Example Contact", "+91 90000 00000")
        if kind == "reaction":
            return payloads.reaction(payloads.message_id(), "👍")
        return payloads.unsupported()

    async def chat_send(self, request: web.Request) -> web.Response:
        data = await request.json()
        message = self._chat_message(data)
        payload = payloads.user_messages(self.config.phone_number_id, digits(str(data.get("phone", ""))),
                                         str(data.get("name", "")), [message])
        return web.json_response({"webhook_status": await self.post_webhook(payload)})

    async def chat_upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        data = upload.file.read()
        mime = upload.content_type or "application/octet-stream"
        kind = "document"
        for prefix in ("image", "audio", "video"):
            if mime.startswith(prefix + "/"):
                kind = prefix
        media_id, sha = self.add_media(data, mime)
        caption = str(form.get("caption") or "") or None
        message = payloads.media(kind, media_id, mime, sha, caption=caption, filename=upload.filename,
                                 voice=kind == "audio" and mime.startswith("audio/ogg"))
        payload = payloads.user_messages(self.config.phone_number_id, digits(str(form.get("phone", ""))),
                                         str(form.get("name", "")), [message])
        return web.json_response({"webhook_status": await self.post_webhook(payload), "kind": kind})

    async def chat_messages(self, request: web.Request) -> web.Response:
        """Messages the bot sent to this phone number, after index `after`."""
        phone = digits(request.query.get("phone", ""))
        after = int(request.query.get("after", "-1"))
        sent = [
            {"index": index, "message": entry["json"]}
            for index, entry in enumerate(self.state.requests)
            if index > after and entry["endpoint"] == "messages" and entry["status"] == 200
            and digits(str(entry["json"].get("to", ""))) == phone
        ]
        return web.json_response(sent)

    async def chat_status(self, request: web.Request) -> web.Response:
        """Runs the webhook verification handshake against the connector, as Meta does."""
        challenge = secrets.token_hex(8)
        params = {"hub.mode": "subscribe", "hub.verify_token": self.config.verify_token,
                  "hub.challenge": challenge}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                async with session.get(self.config.webhook_url, params=params) as response:
                    verified = response.status == 200 and (await response.text()) == challenge
        except (aiohttp.ClientError, TimeoutError):
            verified = False
        return web.json_response({"webhook": self.config.webhook_url, "verified": verified})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/", self.page)
        app.router.add_get("/officer", self.officer_page)
        app.router.add_get("/_sandbox/templates", self.list_templates)
        app.router.add_post("/_sandbox/templates/read", self.read_template)
        app.router.add_post("/_chat/send", self.chat_send)
        app.router.add_post("/_chat/upload", self.chat_upload)
        app.router.add_get("/_chat/messages", self.chat_messages)
        app.router.add_get("/_chat/status", self.chat_status)
        app.router.add_post("/_sandbox/media", self.upload)
        app.router.add_post("/_sandbox/faults", self.faults)
        app.router.add_get("/_sandbox/requests", self.list_requests)
        app.router.add_delete("/_sandbox/requests", self.reset)
        app.router.add_get("/_media/{token}", self.download)
        app.router.add_post("/{version}/{phone_number_id}/messages", self.send_message)
        app.router.add_get("/{version}/{media_id}", self.media_info)
        return app
