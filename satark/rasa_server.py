"""`rasa run` as Satark Mitra starts it: `python -m satark.rasa_server [rasa run options]`.

- The HTTP API token comes from the environment, not the command line. Rasa reads `--auth-token`
  only from its arguments, and a process's arguments are readable by every local user (`ps`,
  /proc/PID/cmdline). `--enable-api --auth-token` are added from `RASA_API_TOKEN` inside the
  process; without `RASA_API_TOKEN` the API stays off.
- Once a worker has loaded the model, everything it holds is moved out of the garbage
  collector's sight (`gc.freeze`). The model, TensorFlow and Rasa's graph are millions of objects
  that live as long as the process, yet each full collection walked them all: two a worker every
  20 s at saturation, 230-380 ms each, a stalled event loop and 2-4 % of the CPU. Frozen objects
  are still freed when nothing refers to them; only reference cycles among them stay (a model
  replaced through the API leaves its cycles behind).
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any


def rasa_argv(options: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The arguments Rasa parses: `rasa run`, the options, the API switched on when a token is set."""
    if "--auth-token" in options or "-t" in options:
        raise SystemExit("satark.rasa_server: pass the API token as RASA_API_TOKEN, not on the command line")
    token = environ.get("RASA_API_TOKEN")
    return ["rasa", "run", *options, *(["--enable-api", "--auth-token", token] if token else [])]


def freezing_after(load: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`load`, then a last full collection and `gc.freeze()` of what is left."""

    @functools.wraps(load)
    async def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        loaded = await load(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return loaded

    return load_then_freeze


def main() -> None:
    from rasa.__main__ import main as rasa_main
    from rasa.core import run

    run.load_agent_on_start = freezing_after(run.load_agent_on_start)  # each Sanic worker loads the model
    sys.argv = rasa_argv(sys.argv[1:], os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
