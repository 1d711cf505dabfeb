"""One rule for every secret the deployment is configured with.

Outside development mode a secret must be long, must not be a placeholder and must look random:
`change-me`, `secret1234…` or forty times the same letter would let anyone forge webhooks,
recompute pseudonyms or verify guessed receipt codes.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter

MIN_LENGTH = 32
MIN_ENTROPY_BITS = 80  # estimated from the character distribution: token_hex(16) scores ~120, token_hex(32) ~240
PLACEHOLDER = re.compile(
    r"change[-_ ]?me|changeit|example|placeholder|replace[-_ ]?me|your[-_ ]|secret|password|passwort|"
    r"dummy|default|sandbox|^test|qwerty|^todo|fixme",
    re.IGNORECASE,
)
# A run of 8+ characters that comes again ("0123456789" * 4): typed, not drawn. Short runs such as
# "1234" or "abcd" are not enough: random hex tokens contain them now and then.
REPEATED_RUN = re.compile(r"(.{8,}).*?\1", re.DOTALL)
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_hex(32))'"

# Every secret the services read from the environment, with what it protects.
SECRETS = {
    "ANONYMIZATION_KEY": "keys the pseudonyms of WhatsApp users",
    "RECEIPT_SECRET": "keys the hashes of receipt codes and draft keys",
    "WHATSAPP_APP_SECRET": "verifies that webhooks come from Meta",
    "WHATSAPP_VERIFY_TOKEN": "answers Meta's webhook verification",
    "RASA_API_TOKEN": "protects Rasa's HTTP API (only when the API is enabled)",
    "ACTION_SERVER_TOKEN": "lets only the Rasa server call the action server",
}


def entropy_bits(value: str) -> float:
    """Shannon entropy of the value's character distribution times its length (an upper bound)."""
    if not value:
        return 0.0
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def secret_problem(value: str | None) -> str | None:
    """Why a value is not a usable secret, or None when it is."""
    value = (value or "").strip()
    if not value:
        return "is not set"
    if PLACEHOLDER.search(value):
        return "looks like a placeholder (change-me, example, secret, …)"
    if REPEATED_RUN.search(value):
        return "repeats itself (not random)"
    if len(value) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if entropy_bits(value) < MIN_ENTROPY_BITS:
        return "is not random enough"
    return None


def weak_secrets(names: tuple[str, ...] | list[str], environ: dict[str, str] | None = None) -> list[str]:
    """One sentence per named environment secret that fails the rule."""
    environ = os.environ if environ is None else environ
    problems = []
    for name in names:
        problem = secret_problem(environ.get(name))
        if problem:
            problems.append(f"{name} {problem}; it {SECRETS.get(name, 'is a secret')}. Generate one: {GENERATE_HINT}")
    return problems
