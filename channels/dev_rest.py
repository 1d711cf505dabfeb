"""Rasa's REST channel, for development only: `channels.dev_rest.DevRestInput` in credentials.yml.

The REST channel trusts whatever `sender` a caller names and passes raw `/intent{...}` text to
Rasa, bypassing everything the WhatsApp connector guarantees (pseudonyms, neutralised intent
syntax, MAC'd buttons). In development mode it is Rasa's own REST channel (testers and the
end-to-end tests drive the bot with `/affirm`); outside it, its webhook does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from satark.settings import get_settings

log = logging.getLogger(__name__)


class DevRestInput(RestInput):
    """`/webhooks/rest/webhook` in development mode; nothing at all outside it."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if get_settings().dev_mode:
            return super().blueprint(on_new_message)
        log.warning("REST channel disabled: it is available in development mode only")
        return Blueprint("rest_disabled", __name__)
