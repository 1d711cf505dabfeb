"""CPU cost of one NLU parse, per pipeline component and in total, and the predictions it made.

    python -m bench.nlu_parse_cost                          # models/satark.tar.gz, one pass
    python -m bench.nlu_parse_cost --repeat 3 --out /tmp/after.json --compare /tmp/before.json
    python -m bench.nlu_parse_cost --max-words 6                  # short messages only

Parses every message of ``tests/nlu/heldout.yml`` and every training example of ``data/nlu/``
one at a time through the trained model (``Agent.parse_message``, as the server does) and
measures CPU time (``time.process_time``, not wall-clock: the machine is shared) around the
whole parse and around each graph node's function. Every parse is a first sight of its text:
the e5 embedding cache, if the featurizer keeps one, is emptied before each parse.

``--out`` gets each message's intent ranking (names and confidences) and entities, by message
number, never the texts (held-out texts stay out of results); ``--compare`` checks them against
an earlier run: same top intent, same ranking, confidences within ``--tolerance``, same entities.
Run it with one BLAS/OpenMP thread (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1``), as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from bench.nlu import HELDOUT, ROOT, TRAIN_DATA, load_training_data  # quiet Rasa's start-up too

MODEL = ROOT / "models" / "satark.tar.gz"
TOTAL = "total"
OUTSIDE_NODES = "(graph runner and message processor)"


def messages() -> list[str]:
    """Held-out messages, then training examples, in file order."""
    return [m.get("text") for path in (HELDOUT, TRAIN_DATA) for m in load_training_data(path).intent_examples]


def forget_embeddings() -> None:
    """Empties the e5 featurizer's per-process embedding cache."""
    from nlu_components import e5_featurizer

    e5_featurizer._CACHE.clear()


class CostMeter:
    """CPU seconds per graph node, collected by wrapping each node's function."""

    def __init__(self, agent: Any) -> None:
        self.current: dict[str, float] = defaultdict(float)
        for name, node in agent.processor.graph_runner._instantiated_nodes.items():
            node._fn = self._timed(name, node._fn)

    def _timed(self, name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[name] += time.process_time() - start

        return timed

    def take(self) -> dict[str, float]:
        taken, self.current = dict(self.current), defaultdict(float)
        return taken


def prediction(parse: dict[str, Any]) -> dict[str, Any]:
    return {
        "intent": parse["intent"].get("name"),
        "confidence": parse["intent"].get("confidence"),
        "ranking": [[r["name"], r["confidence"]] for r in parse.get("intent_ranking", [])],
        "entities": [
            {k: e.get(k) for k in ("entity", "value", "start", "end", "extractor")}
            for e in parse.get("entities", [])
        ],
    }


def measure(model: Path, repeat: int, max_words: int) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # as the server: debug events are dropped, not printed
    loop = asyncio.new_event_loop()
    agent = Agent.load(str(model))
    meter = CostMeter(agent)
    texts = [t for t in messages() if not max_words or len(t.split()) <= max_words]

    def parse(text: str) -> dict[str, Any]:
        return loop.run_until_complete(agent.parse_message(text))

    for text in texts[:3]:  # warm-up: lazy imports, first-call allocations
        forget_embeddings()
        parse(text)
    meter.take()
    costs: dict[str, list[float]] = defaultdict(list)
    predictions = []
    for round_number in range(repeat):
        for text in texts:
            forget_embeddings()
            meter.take()
            start = time.process_time()
            result = parse(text)
            total = time.process_time() - start
            per_node = meter.take()
            for node, seconds in per_node.items():
                costs[node].append(seconds * 1000)
            costs[OUTSIDE_NODES].append((total - sum(per_node.values())) * 1000)
            costs[TOTAL].append(total * 1000)
            if round_number == 0:
                predictions.append(prediction(result))
    loop.close()
    return predictions, costs


def report(costs: dict[str, list[float]]) -> str:
    total_mean = float(np.mean(costs[TOTAL]))
    rows = sorted(costs.items(), key=lambda item: (item[0] == TOTAL, -np.mean(item[1])))
    lines = [f"{'node':<58} {'mean ms':>8} {'p95 ms':>8} {'share':>6}"]
    for node, values in rows:
        mean = float(np.mean(values))
        lines.append(
            f"{node:<58} {mean:8.3f} {float(np.percentile(values, 95)):8.3f} {mean / total_mean:6.1%}"
        )
    lines.append(f"{len(costs[TOTAL])} parses")
    return "\n".join(lines)


def differences(old: list[dict[str, Any]], new: list[dict[str, Any]], tolerance: float) -> list[str]:
    """Where two runs' predictions differ (message number and what), empty if they agree."""
    if len(old) != len(new):
        return [f"{len(old)} messages before, {len(new)} now"]
    found = []
    for number, (before, after) in enumerate(zip(old, new, strict=True)):
        if before["intent"] != after["intent"]:
            found.append(f"#{number}: intent {before['intent']} -> {after['intent']}")
        if [n for n, _ in before["ranking"]] != [n for n, _ in after["ranking"]]:
            found.append(f"#{number}: ranking order differs")
        gaps = [abs(a - b) for (_, a), (_, b) in zip(before["ranking"], after["ranking"], strict=False)]
        gaps.append(abs((before["confidence"] or 0) - (after["confidence"] or 0)))
        if max(gaps) > tolerance:
            found.append(f"#{number}: confidence differs by {max(gaps):.2e}")
        if before["entities"] != after["entities"]:
            found.append(f"#{number}: entities differ")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--repeat", type=int, default=1, help="passes over all messages")
    parser.add_argument("--out", type=Path, help="write the predictions (JSON) here")
    parser.add_argument("--compare", type=Path, help="predictions of an earlier run to check against")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--max-words", type=int, default=0, help="only messages this short (chat replies)")
    args = parser.parse_args(argv)

    predictions, costs = measure(args.model, args.repeat, args.max_words)
    print(report(costs))
    if args.out:
        args.out.write_text(json.dumps(predictions, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.compare:
        found = differences(json.loads(args.compare.read_text(encoding="utf-8")), predictions, args.tolerance)
        print("\n".join(found[:20]) if found else f"same predictions as {args.compare} (tolerance {args.tolerance})")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
