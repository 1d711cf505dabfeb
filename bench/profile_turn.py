"""Where a turn's time goes: NLU, each policy, custom action calls, tracker store reads and writes.

`python -m bench.profile_turn [--model other.tar.gz ...]` loads each model in-process (Rasa's
Agent, SQLite tracker store as in `make run`, a real action server), types the load benchmark's
10-turn report `--conversations` times and times every stage with wall-clock wrappers (cProfile
would not count the time a coroutine spends waiting for the action server). Results go to
bench/results/profile_turn.json and are summarised in load.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.load import RESULTS, SCRIPT, script_for
from tests.support.servers import MODEL, Stack

timings: dict[str, list[float]] = defaultdict(list)
by_script_turn: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
current_script_turn = [0]


def note(label: str, seconds: float) -> None:
    timings[label].append(seconds)
    by_script_turn[current_script_turn[0]][label] += seconds


def timed(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)
    if asyncio.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                note(label, time.perf_counter() - started)
    else:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                note(label, time.perf_counter() - started)
    setattr(owner, name, wrapper)


def instrument() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import SQLTrackerStore

    timed(MessageProcessor, "handle_message", "turn (total)")
    timed(MessageProcessor, "parse_message", "NLU (whole pipeline)")
    timed(RulePolicy, "predict_action_probabilities", "policy: RulePolicy")
    timed(MemoizationPolicy, "predict_action_probabilities", "policy: MemoizationPolicy")
    timed(TEDPolicy, "predict_action_probabilities", "policy: TEDPolicy")
    timed(RemoteAction, "run", "custom action call (HTTP to action server)")
    timed(SQLTrackerStore, "retrieve", "tracker store: read")
    timed(SQLTrackerStore, "save", "tracker store: write")
    from nlu_components.e5_featurizer import E5SentenceFeaturizer
    from nlu_components.linear_classifier import LinearIntentClassifier
    timed(E5SentenceFeaturizer, "process", "NLU: e5 sentence featurizer")
    timed(LinearIntentClassifier, "process", "NLU: linear intent classifier")


async def run(model: Path, action_url: str, workdir: Path, conversations: int) -> dict[str, Any]:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    timings.clear()
    endpoints = AvailableEndpoints(
        action=EndpointConfig(action_url),
        tracker_store=EndpointConfig(type="satark.rasa_stores.EnvironmentTrackerStore"))
    agent = await load_agent(model_path=str(model), endpoints=endpoints)
    await agent.handle_text("Hi", sender_id="warm-up")
    timings.clear()
    cpu_before = time.process_time()
    by_script_turn.clear()
    for number in range(conversations):
        sender = uuid.uuid4().hex
        for index, text in enumerate(script_for(number + int(time.time()))):
            current_script_turn[0] = index
            await agent.handle_text(text, sender_id=sender)
    turns = len(timings["turn (total)"])
    cpu_ms = (time.process_time() - cpu_before) / turns * 1000
    return {"model": str(model), "turns": turns, "rasa_cpu_ms_per_turn": round(cpu_ms, 1),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"), "stages": {
        label: {"calls_per_turn": round(len(values) / turns, 2),
                "ms_per_turn": round(sum(values) / turns * 1000, 1),
                "ms_per_call": round(sum(values) / len(values) * 1000, 1)}
        for label, values in sorted(timings.items()) if values},
        "ms_per_script_turn": {f"{index + 1}. {SCRIPT[index][:30]}": {
            label: round(seconds / conversations * 1000, 1) for label, seconds in sorted(stages.items())}
            for index, stages in sorted(by_script_turn.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_turn", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, action="append", help="model(s) to profile (default: models/)")
    parser.add_argument("--conversations", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="satark-profile-"))
    os.environ.update({"SATARK_VAR_DIR": str(workdir / "var"), "SATARK_DEV_MODE": "true",
                       "DATABASE_URL": f"sqlite:///{workdir / 'var' / 'satark.db'}"})
    stack = Stack(workdir, env={"SATARK_VAR_DIR": os.environ["SATARK_VAR_DIR"], "SATARK_DEV_MODE": "true",
                                "DATABASE_URL": os.environ["DATABASE_URL"]})
    stack.prepare_database()
    results = []
    try:
        actions = stack.start_action_server()
        instrument()
        for model in args.model or [MODEL]:
            result = asyncio.run(run(model, f"{actions.url}/webhook", workdir, args.conversations))
            results.append(result)
            print(json.dumps(result, indent=1))
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    (args.out or RESULTS / "profile_turn.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
