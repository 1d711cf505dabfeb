"""WhatsApp Cloud API connector for Rasa: `channels.whatsapp.WhatsAppInput` in credentials.yml.

Identity stops here. Rasa sees a keyed pseudonym as `sender_id`, a keyed message id, and
metadata naming only the channel and message type. The phone number lives in memory for the
turn being answered, inside the output channel, and nowhere else.

The webhook acknowledges at once and handles messages in the background, in order per
conversation, each exactly once (WhatsApp redelivers).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import whatsapp_texts as texts
from channels.whatsapp_dedup import Deduplicator
from channels.whatsapp_graph import DEFAULT_API_URL, GraphClient, GraphError
from channels.whatsapp_inbound import (
    MEDIA_KINDS,
    POLITE_KINDS,
    Inbound,
    Recipient,
    intent_message,
    neutralise,
    parse_webhook,
)
from channels.whatsapp_outbound import Offers, choice_messages, split_text, text_message
from satark import media
from satark.anonymity import Anonymizer, load_anonymizer

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY_BYTES = 1024 * 1024  # Meta's webhook payloads are far smaller
SHUTDOWN_GRACE_SECONDS = 10.0

@dataclass(frozen=True)
class WhatsAppConfig:
    """Settings from credentials.yml (which takes them from `WHATSAPP_*` environment variables)."""

    verify_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    phone_number_id: str
    anonymizer: Anonymizer = field(repr=False)
    api_url: str = DEFAULT_API_URL
    max_body_bytes: int = MAX_BODY_BYTES
    retry_attempts: int = 5
    retry_backoff_seconds: float = 0.5

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> WhatsAppConfig:
        required = ("verify_token", "app_secret", "access_token", "phone_number_id")
        missing = [key for key in required if not str(credentials.get(key) or "").strip()]
        if missing:
            raise ValueError(
                "WhatsApp connector: missing " + ", ".join(f"WHATSAPP_{k.upper()}" for k in missing)
                + " (for local testing, `python -m sandbox env` prints sandbox values)")
        return cls(
            **{key: str(credentials[key]).strip() for key in required},
            anonymizer=load_anonymizer(),
            api_url=str(credentials.get("api_url") or "").strip() or DEFAULT_API_URL,
            max_body_bytes=int(credentials.get("max_body_bytes") or MAX_BODY_BYTES),
            retry_attempts=int(credentials.get("retry_attempts") or 5),
            retry_backoff_seconds=float(credentials.get("retry_backoff_seconds") or 0.5),
        )


class WhatsAppOutput(OutputChannel):
    """Answers one turn. Rasa's `recipient_id` (a pseudonym) is ignored: the address is held here."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, graph: GraphClient, recipient: Recipient, offers: Offers, sender_id: str) -> None:
        self.graph = graph
        self.recipient = recipient
        self.offers = offers
        self.sender_id = sender_id
        self._offer: int | None = None

    async def _send(self, message: dict) -> None:
        try:
            await self.graph.send({"messaging_product": "whatsapp", "recipient_type": "individual",
                                   **self.recipient.address(), **message})
        except GraphError:
            pass  # logged by the client, without the address; nothing more can be done

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(text):
            await self._send(text_message(piece))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        """Buttons become reply buttons or list rows whose ids only this conversation can use."""
        if self._offer is None:
            self._offer = self.offers.open(self.sender_id)
        options = []
        for index, button in enumerate(buttons):
            title = str(button.get("title") or button.get("payload") or "")
            payload = str(button.get("payload") or title)
            options.append((self.offers.button_id(self.sender_id, self._offer, index, payload), title))
        for message in choice_messages(text or "", options):
            await self._send(message)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send({"type": "image", "image": {"link": image}})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """A WhatsApp message object from a `custom` response, e.g. a template."""
        await self._send(json_message)


class WhatsAppRuntime:
    """What the webhook needs while the server runs: HTTP client, offers, dedup, per-conversation queues."""

    def __init__(self, config: WhatsAppConfig,
                 on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        self.config = config
        self.on_new_message = on_new_message
        self.graph = GraphClient(config.api_url, config.access_token, config.phone_number_id,
                                 attempts=config.retry_attempts, backoff_seconds=config.retry_backoff_seconds)
        self.offers = Offers(config.anonymizer)
        self.dedup = Deduplicator()
        self.ffmpeg = media.find_ffmpeg()
        self.transcriber = media.load_transcriber()
        self._queues: dict[str, deque[Inbound]] = {}
        self._workers: dict[str, asyncio.Task] = {}

    def accept(self, events: list[Inbound], metadata: dict[str, Any]) -> None:
        """Queue events and return at once; each conversation's events are handled in order."""
        for event in events:
            self._queues.setdefault(event.sender_id, deque()).append(event)
            if event.sender_id not in self._workers:
                self._workers[event.sender_id] = asyncio.create_task(self._drain(event.sender_id, metadata))

    async def _drain(self, sender_id: str, metadata: dict[str, Any]) -> None:
        queue = self._queues[sender_id]
        try:
            while queue:
                await self._handle(queue.popleft(), metadata)
        finally:
            del self._queues[sender_id], self._workers[sender_id]

    async def wait_idle(self, timeout: float) -> None:
        """Let messages already acknowledged finish before the server stops."""
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=timeout)

    async def _handle(self, event: Inbound, metadata: dict[str, Any]) -> None:
        output = WhatsAppOutput(self.graph, event.reply_to, self.offers, event.sender_id)
        try:
            if not await self.dedup.first_time(event.message_key):
                log.info("redelivered %s message dropped", event.kind)
                return
            await self._dispatch(event, output, {**metadata, "type": event.kind})
        except Exception:
            log.exception("handling a WhatsApp %s message failed", event.kind)
            await output.send_text_message(event.sender_id, texts.FAILURE)

    async def _forward(self, event: Inbound, text: str, output: WhatsAppOutput, metadata: dict[str, Any],
                       part: str = "") -> None:
        await self.on_new_message(UserMessage(
            text, output, event.sender_id, input_channel=CHANNEL,
            message_id=event.message_key + part, metadata=metadata))

    async def _dispatch(self, event: Inbound, output: WhatsAppOutput, metadata: dict[str, Any]) -> None:
        if event.kind == "text" and event.text and event.text.strip():
            await self._forward(event, neutralise(event.text), output, metadata)
        elif event.kind == "button":
            payload = self.offers.resolve(event.sender_id, event.button_id or "")
            if payload is None:
                log.info("forged or stale button id refused")
                await output.send_text_message(event.sender_id, texts.STALE_BUTTON)
            else:
                await self._forward(event, payload, output, metadata)
        elif event.kind in MEDIA_KINDS and event.media is not None:
            await self._receive_media(event, event.media, output, metadata)
        elif event.kind == "location" and event.text:
            await self._forward(event, intent_message("share_location", {"location": event.text}),
                                output, metadata)
        elif event.kind in POLITE_KINDS:
            await output.send_text_message(event.sender_id, texts.UNSUPPORTED)

    async def _receive_media(self, event: Inbound, incoming: media.IncomingMedia, output: WhatsAppOutput,
                             metadata: dict[str, Any]) -> None:
        try:
            evidence_id = await media.receive(self.graph, incoming, ffmpeg=self.ffmpeg,
                                              transcriber=self.transcriber)
        except media.MediaError as error:
            log.warning("%s not stored: %s", event.kind, error.reason)
            reply = {"too_large": texts.MEDIA_TOO_LARGE.format(mb=media.MAX_BYTES[event.kind] // media.MB),
                     "type": texts.MEDIA_TYPE}.get(error.reason, texts.MEDIA_AGAIN)
            await output.send_text_message(event.sender_id, reply)
            return
        # One message per file: the caption travels with it, so the file is acknowledged once.
        entities = {"evidence_id": evidence_id, "evidence_kind": "voice" if incoming.voice else event.kind}
        if incoming.caption and incoming.caption.strip():
            entities["caption"] = incoming.caption.strip()
        transcript = await media.transcript_of(evidence_id) if self.transcriber and event.kind == "audio" else None
        if transcript:
            # Speech-to-text is configured: what was said is understood like typed text, before
            # the recording joins the report it describes.
            await self._forward(event, neutralise(transcript), output, {**metadata, "type": "transcript"},
                                part=":transcript")
        await self._forward(event, intent_message("share_evidence", entities), output, metadata)


def _valid_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (the rest is drained, not kept)."""
    declared = request.headers.get("content-length")
    too_large = declared is not None and declared.isdigit() and int(declared) > limit
    chunks, size = [], 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            break
        size += len(chunk)
        too_large = too_large or size > limit
        if not too_large:
            chunks.append(chunk)
    return None if too_large else b"".join(chunks)


class WhatsAppInput(InputChannel):
    """The webhook Meta calls: `/webhooks/whatsapp/webhook`."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppInput:
        """Refuses to start without the settings, or without a proper anonymization key."""
        return cls(WhatsAppConfig.from_credentials(credentials or {}))

    def __init__(self, config: WhatsAppConfig) -> None:
        self.config = config

    def get_metadata(self, request: Request) -> dict[str, Any]:
        """Only the channel's name: nothing about the person goes into the tracker."""
        return {"channel": CHANNEL}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        runtime = WhatsAppRuntime(self.config, on_new_message)
        config = self.config
        webhook = Blueprint("whatsapp_webhook", __name__)

        @webhook.get("/")
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                    token.encode(), config.verify_token.encode()):
                return response.text(request.args.get("hub.challenge") or "")
            log.warning("webhook verification refused")
            return response.text("forbidden", status=403)

        @webhook.post("/webhook", stream=True)
        async def receive(request: Request) -> HTTPResponse:
            body = await _read_body(request, config.max_body_bytes)
            if body is None:
                return response.json({"error": "payload too large"}, status=413)
            if not _valid_signature(config.app_secret, body, request.headers.get(SIGNATURE_HEADER)):
                log.warning("webhook POST with a missing or wrong signature refused")
                return response.json({"error": "invalid signature"}, status=403)
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                return response.json({"error": "malformed JSON"}, status=400)
            if not isinstance(payload, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            events = parse_webhook(payload, config.anonymizer, config.phone_number_id)
            runtime.accept(events, self.get_metadata(request))
            log.debug("webhook accepted %d message(s)", len(events))
            return response.json({"status": "ok"})

        @webhook.listener("before_server_stop")
        async def finish(*_: Any) -> None:
            await runtime.wait_idle(SHUTDOWN_GRACE_SECONDS)
            await runtime.graph.close()

        webhook.ctx.runtime = runtime
        return webhook
