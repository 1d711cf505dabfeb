"""Rasa's per-turn shortcuts (satark.rasa_speedups) and the pooled tracker store behave as Rasa does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from satark import rasa_speedups
from satark.settings import PROJECT_ROOT

DOMAIN = Domain.from_path(str(PROJECT_ROOT / "domain.yml"))


def rasa_resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Rasa 3.6's `Event.resolve_by_type`, verbatim."""
    for cls in all_subclasses(Event):
        if cls.type_name == type_name:
            return cls
    if type_name == "topic":
        return None
    elif default is not None:
        return default
    else:
        raise ValueError(f"Unknown event name '{type_name}'.")


def outcome(resolve: Any, *args: Any) -> Any:
    try:
        return resolve(*args)
    except ValueError as error:
        return str(error)


@pytest.fixture(autouse=True)
def installed() -> None:
    rasa_speedups.install()


def test_every_event_type_name_resolves_as_in_rasa():
    names = [cls.type_name for cls in all_subclasses(Event)] + ["topic", "no_such_event"]
    for name in names:
        for default in (None, UserUttered):
            assert outcome(Event.resolve_by_type, name, default) == outcome(rasa_resolve_by_type, name, default)
    assert outcome(Event.resolve_by_type, "no_such_event") == "Unknown event name 'no_such_event'."


def test_an_event_class_defined_later_is_found():
    assert Event.resolve_by_type("user") is UserUttered  # the table is built

    class LateEvent(SlotSet):
        type_name = "late_event_for_a_test"

    assert Event.resolve_by_type("late_event_for_a_test") is LateEvent
    assert Event.resolve_by_type("slot") is rasa_resolve_by_type("slot")


def conversation() -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events("speedups", [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("gaon me sharab bik rahi hai", {"name": "report_illegal_liquor", "confidence": 0.93},
                    [{"entity": "district", "value": "GZP", "start": 0, "end": 4}],
                    parse_data={"intent_ranking": [{"name": "report_illegal_liquor", "confidence": 0.93}]}),
        ActionExecuted("report_form"), ActiveLoop("report_form"), SlotSet("requested_slot", "description"),
        BotUttered("Please describe", {"buttons": [{"title": "Skip", "payload": "/skip"}]},
                   {"utter_action": "utter_ask_description"}),
        ActionExecuted("action_listen"), UserUttered("/skip", {"name": "skip", "confidence": 1.0}),
        SlotSet("description", None), ActiveLoop(None), Restarted(),
    ], DOMAIN.slots)
    return tracker


def test_a_stored_conversation_deserialises_to_the_same_events(monkeypatch):
    stored = conversation().current_state(EventVerbosity.ALL)["events"]
    fast = DialogueStateTracker.from_dict("speedups", stored, DOMAIN.slots).events
    monkeypatch.setattr(Event, "resolve_by_type", staticmethod(rasa_resolve_by_type))
    slow = DialogueStateTracker.from_dict("speedups", stored, DOMAIN.slots).events
    assert list(fast) == list(slow) and [e.as_dict() for e in fast] == [e.as_dict() for e in slow]
    assert [type(e) for e in fast] == [type(e) for e in slow]


async def serve_and_call(calls: int) -> tuple[list[Any], set[Any], int]:
    """A local HTTP server answering with what it received; `calls` requests through Rasa's endpoint
    client. Returns the answers, the client ports the server saw, and the status of a refused call."""
    peers = set()

    async def echo(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername"))
        if request.query.get("token") != "secret":
            return web.json_response({"error": "unauthorised"}, status=401)
        return web.json_response({"got": await request.json(), "auth": request.headers.get("Authorization")})

    app = web.Application()
    app.router.add_post("/webhook", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="secret",
                                  basic_auth={"username": "rasa", "password": "pw"})
        answers = [await endpoint.request(json={"call": number}) for number in range(calls)]
        with pytest.raises(ClientResponseError) as refused:
            await EndpointConfig(f"http://127.0.0.1:{port}/webhook").request(json={})
        return answers, peers, refused.value.status
    finally:
        await runner.cleanup()


def test_endpoint_requests_keep_their_connection_and_answers():
    answers, peers, refused = asyncio.run(serve_and_call(3))
    assert answers == [{"got": {"call": number}, "auth": "Basic cmFzYTpwdw=="} for number in range(3)]
    assert len(peers) == 1 and refused == 401
    answers, _, _ = asyncio.run(serve_and_call(1))  # a new event loop gets its own pool
    assert answers == [{"got": {"call": 0}, "auth": "Basic cmFzYTpwdw=="}]
