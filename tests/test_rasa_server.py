"""`python -m satark.rasa_server`: the API token stays off the command line, the loaded model out
of the garbage collector's walks. (The token's absence from `ps` is checked on a running server in
test_e2e_rest.py.)"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from satark.rasa_server import freezing_after, rasa_argv
from tests.support.connector import APP_SECRET


def test_the_api_is_on_only_with_a_token_from_the_environment():
    assert rasa_argv(["--port", "5005"], {}) == ["rasa", "run", "--port", "5005"]
    assert rasa_argv(["--port", "5005"], {"RASA_API_TOKEN": APP_SECRET}) == [
        "rasa", "run", "--port", "5005", "--enable-api", "--auth-token", APP_SECRET]
    with pytest.raises(SystemExit, match="RASA_API_TOKEN"):
        rasa_argv(["--auth-token", APP_SECRET], {})


def test_what_the_model_load_leaves_is_frozen_and_garbage_collected_first():
    class Cycle:
        def __init__(self) -> None:
            self.me = self

    garbage: list[weakref.ref] = []

    async def load() -> list[object]:
        garbage.append(weakref.ref(Cycle()))  # only a collection frees a cycle
        return [object() for _ in range(1000)]

    gc.unfreeze()
    try:
        loaded = asyncio.run(freezing_after(load)())
        assert len(loaded) == 1000
        assert gc.get_freeze_count() > 1000
        assert garbage[0]() is None  # collected before the freeze, not frozen for ever
    finally:
        gc.unfreeze()
