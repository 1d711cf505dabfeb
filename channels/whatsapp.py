"""WhatsApp Cloud API connector for Rasa: `channels.whatsapp.WhatsAppInput` in credentials.yml.

Identity stops here. Rasa sees a keyed pseudonym as `sender_id`, a keyed message id and the
message's content, with no metadata at all. The phone number lives in memory for the
turn being answered, inside the output channel, and otherwise only sealed (encrypted) in the
inbound queue until the message is answered.

The webhook stores each message durably (`channels/whatsapp_queue.py`) before it answers 200;
the queue hands every conversation's messages, in order, to whichever server is free, each
exactly once (WhatsApp redelivers; a server can die mid-turn).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import text

from channels import whatsapp_texts as texts
from channels.whatsapp_graph import DEFAULT_API_URL, GraphClient, GraphError
from channels.whatsapp_inbound import (
    MEDIA_KINDS,
    POLITE_KINDS,
    Inbound,
    Recipient,
    delivery_statuses,
    intent_message,
    neutralise,
    parse_webhook,
)
from channels.whatsapp_outbound import Offers, choice_messages, split_text, text_message
from channels.whatsapp_queue import (
    DatabaseStore,
    Doorbell,
    InboundQueue,
    InboundStore,
    Queued,
    QueueUnavailable,
    RedisStore,
    Seal,
)
from channels.whatsapp_ratelimit import SenderRateLimit
from satark import forwarding, media, preflight
from satark.anonymity import Anonymizer, load_anonymizer
from satark.db.session import get_session_factory
from satark.deployment import get_deployment_settings
from satark.logs import configure_logging
from satark.secret_policy import secret_problem
from satark.settings import get_settings
from satark.taxonomy import category_guess

log = logging.getLogger(__name__)
# Rasa has configured its logging by the time it loads this channel: redact and quiet it from here on,
# and keep everything the server writes from now on owner-only.
configure_logging()
preflight.harden_process()

CHANNEL = "whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY_BYTES = 1024 * 1024  # Meta's webhook payloads are far smaller

ANSWERED_KINDS = ("text", "button", "location")  # the dialogue always answers these
# What the NLU model finds in a caption and the dialogue takes from a typed complaint too.
CAPTION_ENTITIES = ("village", "incident_time", "urgency")


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
    timeout_seconds: float = 30.0

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> WhatsAppConfig:
        required = ("verify_token", "app_secret", "access_token", "phone_number_id")
        missing = [key for key in required if not str(credentials.get(key) or "").strip()]
        if missing:
            raise ValueError(
                "WhatsApp connector: missing " + ", ".join(f"WHATSAPP_{k.upper()}" for k in missing)
                + " (for local testing, `python -m sandbox env` prints sandbox values)")
        config = cls(
            **{key: str(credentials[key]).strip() for key in required},
            anonymizer=load_anonymizer(),
            api_url=str(credentials.get("api_url") or "").strip() or DEFAULT_API_URL,
            max_body_bytes=int(credentials.get("max_body_bytes") or MAX_BODY_BYTES),
            retry_attempts=int(credentials.get("retry_attempts") or 5),
            retry_backoff_seconds=float(credentials.get("retry_backoff_seconds") or 0.5),
            timeout_seconds=float(credentials.get("timeout_seconds") or 30.0),
        )
        config.refuse_unsafe_start()
        return config

    def refuse_unsafe_start(self) -> None:
        """Outside development mode: strong webhook secrets, no open API, no development channels."""
        if get_settings().dev_mode:
            return
        found = [f"WHATSAPP_{name.upper()} {problem}" for name in ("app_secret", "verify_token")
                 if (problem := secret_problem(getattr(self, name)))]
        found += preflight.server_problems(os.environ, sys.argv)
        if found:
            raise preflight.UnsafeStart("refusing to start outside development mode:\n- " + "\n- ".join(found))


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
        self.attempted = 0  # messages this turn tried to send
        self.forwarded = False  # the message reached the dialogue, which always answers

    async def _send(self, message: dict) -> None:
        self.attempted += 1
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


def inbound_store() -> InboundStore:
    """Redis when `REDIS_URL` is set (several servers), else the report database (one server)."""
    settings = get_deployment_settings()
    if settings.redis_url:
        return RedisStore(settings.redis_url, settings.inbound_lease_seconds,
                          prefix=f"{settings.redis_key_prefix}:inbound:")
    return DatabaseStore(settings.inbound_lease_seconds)


class WhatsAppRuntime:
    """What the webhook needs while the server runs: HTTP client, offers, the inbound queue."""

    def __init__(self, config: WhatsAppConfig,
                 on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        settings = get_deployment_settings()
        self.config = config
        self.on_new_message = on_new_message
        self.graph = GraphClient(config.api_url, config.access_token, config.phone_number_id,
                                 attempts=config.retry_attempts, backoff_seconds=config.retry_backoff_seconds,
                                 timeout_seconds=config.timeout_seconds)
        self.offers = Offers(config.anonymizer)
        self.ffmpeg = media.find_ffmpeg()
        self.transcriber = media.load_transcriber()
        self.queue = InboundQueue(inbound_store(), Seal(config.anonymizer), self._handle,
                                  concurrency=settings.inbound_concurrency,
                                  lease_seconds=settings.inbound_lease_seconds,
                                  poll_seconds=settings.inbound_poll_seconds,
                                  doorbell=Doorbell() if settings.worker_processes > 1 else None)
        self.rate_limit = SenderRateLimit(settings.sender_rate_limit_per_minute, settings.redis_url,
                                          prefix=f"{settings.redis_key_prefix}:rate:")
        # Set by the server once Rasa's agent is loaded: did a turn for this message id happen?
        self.turn_recorded: Callable[[str, str], Awaitable[bool]] | None = None
        # ... and what does the NLU model read in a text (a caption)?
        self.understand: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None
        self._notices: set[asyncio.Task] = set()

    async def accept(self, events: list[Inbound]) -> None:
        """Store new events durably, or raise QueueUnavailable (then WhatsApp retries).

        The queue drops redeliveries; a sender over the rate limit gets one notice per window
        and the excess messages are dropped.
        """
        admitted: list[Inbound] = []
        for event in events:
            number = await self.rate_limit.count(event.sender_id)
            if number > self.rate_limit.per_minute:
                log.warning("sender over the rate limit; %s message dropped", event.kind)
                if number == self.rate_limit.per_minute + 1:
                    self._notify(event, texts.SLOW_DOWN)
                continue
            admitted.append(event)
        stored = await self.queue.put(admitted)
        if stored < len(admitted):
            log.info("%d redelivered message(s) dropped", len(admitted) - stored)

    def _notify(self, event: Inbound, text: str) -> None:
        output = WhatsAppOutput(self.graph, event.reply_to, self.offers, event.sender_id)
        task = asyncio.create_task(output.send_text_message(event.sender_id, text))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    def accept_statuses(self, statuses: list[forwarding.DeliveryStatus]) -> None:
        """Delivery receipts update forwards to officers (in the background, like messages)."""
        task = asyncio.create_task(asyncio.to_thread(forwarding.record_delivery_statuses, statuses))
        self._notices.add(task)
        task.add_done_callback(self._status_done)

    def _status_done(self, task: asyncio.Task) -> None:
        self._notices.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording delivery statuses failed (%s)", type(task.exception()).__name__)

    def idle(self) -> bool:
        """Nothing accepted by this process is waiting or being handled (tests wait for this)."""
        return self.queue.idle() and not self._notices

    async def _handle(self, queued: Queued) -> None:
        event = queued.event
        output = WhatsAppOutput(self.graph, event.reply_to, self.offers, event.sender_id)
        try:
            if queued.attempts > 1 and self.turn_recorded is not None \
                    and await self.turn_recorded(event.sender_id, event.message_key):
                log.info("%s message already answered before a restart; not handled again", event.kind)
                return
            await self._dispatch(event, output)
            if output.forwarded and output.attempted == 0 and event.kind in ANSWERED_KINDS:
                # Rasa swallows a failed custom action (e.g. the action server is down) and
                # answers nothing; the citizen is told instead of left waiting. The draft stays.
                log.warning("a %s message got no answer; apologising", event.kind)
                await output.send_text_message(event.sender_id, texts.FAILURE)
        except Exception:
            log.exception("handling a WhatsApp %s message failed", event.kind)
            await output.send_text_message(event.sender_id, texts.FAILURE)

    async def _forward(self, event: Inbound, text: str, output: WhatsAppOutput, part: str = "") -> None:
        output.forwarded = True
        await self.on_new_message(UserMessage(
            text, output, event.sender_id, input_channel=CHANNEL,
            message_id=event.message_key + part))

    async def _dispatch(self, event: Inbound, output: WhatsAppOutput) -> None:
        if event.kind == "text" and event.text and event.text.strip():
            await self._forward(event, neutralise(event.text), output)
        elif event.kind == "button":
            payload = self.offers.resolve(event.sender_id, event.button_id or "")
            if payload is None:
                log.info("forged or stale button id refused")
                await output.send_text_message(event.sender_id, texts.STALE_BUTTON)
            else:
                await self._forward(event, payload, output)
        elif event.kind in MEDIA_KINDS and event.media is not None:
            await self._receive_media(event, event.media, output)
        elif event.kind == "location" and event.text:
            await self._forward(event, intent_message("share_location", {"location": event.text}), output)
        elif event.kind in POLITE_KINDS:
            await output.send_text_message(event.sender_id, texts.UNSUPPORTED)

    async def _receive_media(self, event: Inbound, incoming: media.IncomingMedia, output: WhatsAppOutput) -> None:
        try:
            evidence_id = await media.receive(self.graph, incoming, ffmpeg=self.ffmpeg,
                                              transcriber=self.transcriber)
        except media.MediaError as error:
            log.warning("%s not stored: %s", event.kind, error.reason)
            reply = {"too_large": texts.MEDIA_TOO_LARGE.format(mb=media.MAX_BYTES[event.kind] // media.MB),
                     "type": texts.MEDIA_TYPE, "quarantined": texts.MEDIA_UNSAFE}.get(error.reason, texts.MEDIA_AGAIN)
            await output.send_text_message(event.sender_id, reply)
            return
        # One message per file: the caption travels with it, so the file is acknowledged once.
        entities = {"evidence_id": evidence_id, "evidence_kind": "voice" if incoming.voice else event.kind}
        if incoming.caption and incoming.caption.strip():
            entities["caption"] = incoming.caption.strip()
            entities.update(await self._read_caption(entities["caption"]))
        transcript = await media.transcript_of(evidence_id) if self.transcriber and event.kind == "audio" else None
        if transcript:
            # Speech-to-text is configured: what was said is understood like typed text, before
            # the recording joins the report it describes.
            await self._forward(event, neutralise(transcript), output, part=":transcript")
        await self._forward(event, intent_message("share_evidence", entities), output)

    async def _read_caption(self, caption: str) -> dict[str, Any]:
        """The caption may be the complaint itself: the crime category the NLU model sees in it
        (`caption_category`) and the village, time and urgency words it finds, which the dialogue
        takes from a typed complaint too."""
        reading = await self.understand(caption) if self.understand else None
        if not reading:
            return {}
        found: dict[str, Any] = {}
        category = category_guess(reading)
        if category:
            found["caption_category"] = category
        for name in CAPTION_ENTITIES:
            values = [item["value"] for item in reading.get("entities") or []
                      if item.get("entity") == name and isinstance(item.get("value"), str)]
            if values:
                found[name] = values
        return found


async def _turn_recorded(app: Any, sender_id: str, message_key: str) -> bool:
    """Whether Rasa's tracker already holds the user message with this id (a turn that completed
    before its server stopped, whose queue entry was not yet removed)."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender_id)
    return tracker is not None and any(
        isinstance(event, UserUttered) and event.message_id == message_key for event in tracker.events)


async def _understand(app: Any, text: str) -> dict[str, Any] | None:
    """Rasa's NLU reading of `text` (None while no model is loaded, or when reading fails: the file
    is still taken, and the citizen is asked what the caption would have told)."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or not agent.is_ready():
        return None
    try:
        return await agent.parse_message(neutralise(text))
    except Exception as error:  # a reading is optional: the file must not be lost over it
        log.error("reading a caption failed (%s)", type(error).__name__)
        return None


async def _probe(name: str, check: Callable[[], Awaitable[Any]]) -> tuple[str, str]:
    try:
        await asyncio.wait_for(check(), timeout=3)
        return name, "ok"
    except Exception as error:  # reported, not raised: this is the health check
        return name, f"{type(error).__name__}: {str(error)[:200] or 'no answer'}"


async def readiness_checks(runtime: WhatsAppRuntime, agent: Any) -> dict[str, str]:
    """Each store's state: "ok" or the error, e.g. {"inbound_queue": "QueueUnavailable: Redis: ..."}."""
    loop = asyncio.get_running_loop()

    def database() -> Awaitable[Any]:
        def select_one() -> None:
            with get_session_factory().begin() as session:
                session.execute(text("SELECT 1"))
        return loop.run_in_executor(None, select_one)

    probes = [_probe("inbound_queue", runtime.queue.store.check), _probe("report_database", database)]
    tracker_store = getattr(agent, "tracker_store", None)
    while tracker_store is not None and hasattr(tracker_store, "_tracker_store"):  # Rasa's fail-safe wrapper
        tracker_store = tracker_store._tracker_store
    engine = getattr(tracker_store, "engine", None)
    if engine is not None:
        def tracker_database() -> Awaitable[Any]:
            def select_one() -> None:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            return loop.run_in_executor(None, select_one)
        probes.append(_probe("tracker_store", tracker_database))
    lock_store = getattr(agent, "lock_store", None)
    if getattr(lock_store, "red", None) is not None:
        probes.append(_probe("lock_store", lambda: loop.run_in_executor(None, lock_store.red.ping)))
    return dict(await asyncio.gather(*probes))


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
            except (ValueError, RecursionError):  # bad UTF-8 or JSON, huge integers, absurd nesting
                return response.json({"error": "malformed JSON"}, status=400)
            if not isinstance(payload, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            events = parse_webhook(payload, config.anonymizer, config.phone_number_id)
            try:
                await runtime.accept(events)
            except QueueUnavailable as error:
                log.error("webhook refused with 503, WhatsApp will retry: %s", error)
                return response.json({"error": "temporarily unavailable"}, status=503)
            statuses = delivery_statuses(payload, config.phone_number_id)
            if statuses:
                runtime.accept_statuses(statuses)
            log.debug("webhook accepted %d message(s)", len(events))
            return response.json({"status": "ok"})

        @webhook.get("/ready")
        async def ready(request: Request) -> HTTPResponse:
            """Readiness: every store this server needs answers (queue, databases, Redis)."""
            checks = await readiness_checks(runtime, getattr(request.app.ctx, "agent", None))
            healthy = all(result == "ok" for result in checks.values())
            return response.json({"status": "ok" if healthy else "unavailable", "checks": checks},
                                 status=200 if healthy else 503)

        @webhook.listener("after_server_start")
        async def start(app: Any, _: Any) -> None:
            runtime.turn_recorded = partial(_turn_recorded, app)
            runtime.understand = partial(_understand, app)
            runtime.queue.start()

        @webhook.listener("before_server_stop")
        async def finish(*_: Any) -> None:
            await runtime.queue.stop()
            await runtime.rate_limit.close()
            await runtime.graph.close()

        webhook.ctx.runtime = runtime
        return webhook
