"""Keyed pseudonyms for channel identities, so no phone number or username goes past the connector.

A WhatsApp user is known to the rest of the system only as HMAC-SHA256(ANONYMIZATION_KEY, id):
stable across turns and restarts (the conversation continues), but not reversible, and not
even guessable by enumerating phone numbers without the key. No reverse map is kept anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from satark.secret_policy import MIN_LENGTH, secret_problem
from satark.settings import EXAMPLE_SECRET, get_settings, local_secret

KEY_ENV = "ANONYMIZATION_KEY"


class AnonymizationKeyError(RuntimeError):
    """The key is missing, the example value or too short outside development mode."""


@dataclass(frozen=True)
class Anonymizer:
    """Derives the pseudonyms; the key never appears in repr or logs."""

    key: bytes = field(repr=False)

    def _digest(self, purpose: str, value: str) -> str:
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def sender_id(self, wa_id: str | None = None, user_id: str | None = None) -> str:
        """The Rasa sender id: from the phone-number id when WhatsApp sends it, else the username id.

        The phone-number id is preferred so that conversations started before WhatsApp added
        business-scoped user ids keep their pseudonym.
        """
        if wa_id:
            return self._digest("wa_id", "".join(ch for ch in wa_id if ch.isdigit()))
        if user_id:
            return self._digest("user_id", user_id.strip())
        raise ValueError("a WhatsApp message without any sender id")

    def message_key(self, channel_message_id: str) -> str:
        """A stable key for a channel message id (WhatsApp's `wamid` encodes the phone number)."""
        return self._digest("message", channel_message_id)

    def sign(self, purpose: str, value: str) -> str:
        """A MAC for values the connector hands out and must recognise later (button ids)."""
        return self._digest(purpose, value)


def check_key(value: str | None, dev_mode: bool) -> str | None:
    """The usable key, None when development mode may generate one, or an error."""
    value = (value or "").strip()
    if dev_mode:
        return value if value != EXAMPLE_SECRET and len(value) >= MIN_LENGTH else None
    problem = secret_problem(value)
    if problem is None:
        return value
    raise AnonymizationKeyError(
        f"{KEY_ENV} {problem}. Outside development mode (SATARK_DEV_MODE=0) it must be a long random "
        "secret: python -c 'import secrets; print(secrets.token_hex(32))'. Changing it later starts "
        "every conversation afresh."
    )


def load_anonymizer() -> Anonymizer:
    """The anonymizer for this deployment; in development mode a key is generated once and kept."""
    settings = get_settings()
    key = check_key(settings.anonymization_key, settings.dev_mode)
    if key is None:
        key = local_secret("anonymization_key")
    return Anonymizer(key.encode())
