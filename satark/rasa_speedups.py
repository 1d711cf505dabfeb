"""Per-turn work in Rasa 3.6 that buys nothing, removed in every Rasa process.

- Rasa checks each answer of the action server with `jsonschema.validate(result, schema)`, which
  first validates the schema itself against the JSON Schema meta-schema. That took 52 ms of the
  about 55 ms the check costs, on every custom action call, and was 30% of a busy Rasa worker's
  time (profile in bench/README.md). Here the schema is checked once and the validator is kept:
  answers are validated exactly as before, with the same error.
- `Event.resolve_by_type` walks every subclass of `Event` (and asks `inspect.isabstract` of each)
  to turn one stored event's type name into its class. The tracker store does that for every
  event of the conversation on every turn: 7% of a busy Rasa worker (a 73-event conversation:
  retrieved in 4.6-5.4 ms before, 1.9-2.0 ms after). Here the walk's answer is
  kept per type name, and forgotten whenever a new `Event` subclass is defined.
- `EndpointConfig.request` opens a new `aiohttp.ClientSession`, so a new TCP connection to the
  action server, for every custom action call (about 1.4 a turn), which both sides then set up and
  tear down. Here the sessions share one connection pool per event loop: same requests, same
  answers, kept-alive connections (aiohttp closes them after 15 s idle, before the action server's
  75 s `SANIC_KEEP_ALIVE_TIMEOUT`). One citizen's REST turn, interleaved runs: 2.5-6 ms less server CPU
  (59.2 -> 56.7 and 62.9 -> 56.8 ms).

`satark.rasa_stores` installs this; endpoints.yml loads that module in every Rasa server process.
"""

from __future__ import annotations

import asyncio
import atexit
from functools import cache
from typing import Any

import aiohttp
from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig


@cache
def action_response_validator() -> Validator:
    """The validator of action server answers, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` without re-checking the schema on every call."""
    try:
        action_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (". Failed to validate Action server response from API, make sure your response from "
                          f"the Action endpoint is valid. For more information visit {DOCS_BASE_URL}/custom-actions")
        raise


_event_classes: dict[str, type[Event]] | None = None


def event_classes() -> dict[str, type[Event]]:
    """Concrete `Event` classes by type name, the first one `all_subclasses` lists winning (as in
    Rasa's loop)."""
    global _event_classes
    classes = _event_classes
    if classes is None:
        classes = {}
        for event_class in all_subclasses(Event):
            classes.setdefault(event_class.type_name, event_class)
        _event_classes = classes
    return classes


def _forget_event_classes(cls: type[Event], **kwargs: Any) -> None:
    """`Event.__init_subclass__`: a new subclass may change what a type name resolves to."""
    global _event_classes
    _event_classes = None
    super(Event, cls).__init_subclass__(**kwargs)


def resolve_event_class(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """`Event.resolve_by_type` without walking every subclass on every call."""
    event_class = event_classes().get(type_name)
    if event_class is not None:
        return event_class
    if type_name == "topic":
        return None  # Rasa's backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


_kept_connector: tuple[asyncio.AbstractEventLoop, aiohttp.TCPConnector] | None = None


def shared_connector() -> aiohttp.TCPConnector:
    """The connection pool of the running event loop (a Sanic worker runs one loop all its life)."""
    global _kept_connector
    loop = asyncio.get_running_loop()
    if _kept_connector is None or _kept_connector[0] is not loop or _kept_connector[1].closed:
        close_kept_connections()
        _kept_connector = (loop, aiohttp.TCPConnector(limit=0))  # one per session had no common limit
    return _kept_connector[1]


@atexit.register
def close_kept_connections() -> None:
    """Closes the kept-alive connections (else aiohttp logs them as leaked when the process ends)."""
    if _kept_connector is not None:
        _kept_connector[1]._close()  # what `await connector.close()` does, without a running loop


def session_on_shared_connector(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """`EndpointConfig.session` whose connections outlive it, kept for the next request."""
    auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"]) \
        if endpoint.basic_auth else None
    return aiohttp.ClientSession(headers=endpoint.headers, auth=auth,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                                 connector=shared_connector(), connector_owner=False)


def install() -> None:
    """Idempotent."""
    RemoteAction._validate_action_result = validate_action_result
    Event.__init_subclass__ = classmethod(_forget_event_classes)  # type: ignore[assignment]
    Event.resolve_by_type = staticmethod(resolve_event_class)  # type: ignore[assignment]
    EndpointConfig.session = session_on_shared_connector  # type: ignore[method-assign]
