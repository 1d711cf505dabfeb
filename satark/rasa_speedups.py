"""Per-turn work in Rasa 3.6 that buys nothing, removed in every Rasa process.

Rasa checks each answer of the action server with `jsonschema.validate(result, schema)`, which
first validates the schema itself against the JSON Schema meta-schema. That took 52 ms of the
about 55 ms the check costs, on every custom action call, and was 30% of a busy Rasa worker's
time (profile in bench/README.md). Here the schema is checked once and the validator is kept:
answers are validated exactly as before, with the same error.

`satark.rasa_stores` installs this; endpoints.yml loads that module in every Rasa server process.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


def install() -> None:
    """Idempotent."""
    RemoteAction._validate_action_result = validate_action_result
