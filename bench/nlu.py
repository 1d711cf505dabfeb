"""NLU benchmark: trains the pipeline, then measures it (see bench/README.md).

    python -m bench.nlu                      # train config.yml's pipeline, held-out + 5-fold CV
    python -m bench.nlu --folds 0            # held-out only
    python -m bench.nlu --full-train         # also time a full `rasa train` (NLU + dialogue)
    python -m bench.nlu --compare bench/candidates/*.yml --folds 5   # CV of candidate pipelines

Writes bench/results/nlu.json, nlu.md and confusion_matrix.png (or, with --compare,
pipeline_comparison.json and pipeline_comparison.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Rasa's training cache would reuse components trained by `make train` and hide training time.
os.environ["RASA_MAX_CACHE_SIZE"] = "0"

import numpy as np

from satark.language import script_of

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
TRAIN_DATA = ROOT / "data" / "nlu"
FALLBACK = "nlu_fallback"
OOS = "out_of_scope"
SEED = 20240601

log = logging.getLogger("bench.nlu")

# --- data ---------------------------------------------------------------------------------


def load_training_data(path: Path):
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path))


def examples(training_data) -> list[tuple[str, str]]:
    return [(m.get("text"), m.get("intent")) for m in training_data.intent_examples]


# --- training and parsing -----------------------------------------------------------------


def train_nlu(config: Path, data: Path, out: Path, name: str = "nlu") -> tuple[Path, float]:
    """Train an NLU-only model; returns its path and the wall-clock seconds it took."""
    from rasa.model_training import train_nlu as rasa_train_nlu

    start = time.perf_counter()
    model = rasa_train_nlu(str(config), str(data), str(out), fixed_model_name=name)
    seconds = time.perf_counter() - start
    if not model:
        raise RuntimeError(f"training {config} failed")
    return Path(model), seconds


def train_full(out: Path) -> tuple[Path, float]:
    """`rasa train` (NLU and dialogue) as the Makefile runs it, timed."""
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "train", "--fixed-model-name", "bench", "--out", str(out)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    return out / "bench.tar.gz", time.perf_counter() - start


class Parser:
    """A trained model, loaded once, parsing one message at a time as the server does."""

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent

        self.loop = asyncio.new_event_loop()
        self.agent = Agent.load(str(model))

    def parse(self, text: str) -> tuple[dict[str, Any], float]:
        start = time.perf_counter()
        result = self.loop.run_until_complete(self.agent.parse_message(text))
        return result, time.perf_counter() - start

    def close(self) -> None:
        self.loop.close()


@dataclass
class Prediction:
    text: str
    gold: str
    intent: str  # final intent, after FallbackClassifier
    classifier_intent: str  # the classifier's top intent (before fallback)
    confidence: float
    seconds: float
    script: str = field(default="")


def predict(parser: Parser, items: list[tuple[str, str]]) -> list[Prediction]:
    out = []
    for text, gold in items:
        result, seconds = parser.parse(text)
        intent = result["intent"]["name"]
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != FALLBACK]
        top = ranking[0] if ranking else result["intent"]
        out.append(Prediction(text, gold, intent, top["name"], float(top["confidence"]), seconds, script_of(text)))
    return out


# --- metrics ------------------------------------------------------------------------------


def f1_table(golds: list[str], preds: list[str], labels: list[str]) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(golds, preds, labels=labels, zero_division=0)
    return {
        label: {"precision": round(float(pi), 4), "recall": round(float(ri), 4), "f1": round(float(fi), 4),
                "support": int(si)}
        for label, pi, ri, fi, si in zip(labels, p, r, f, s, strict=True)
    }


def macro_f1(golds: list[str], preds: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(golds, preds, labels=labels, average="macro", zero_division=0)), 4)


def heldout_metrics(preds: list[Prediction]) -> dict[str, Any]:
    golds = [p.gold for p in preds]
    final = [p.intent for p in preds]
    labels = sorted(set(golds))
    reports = [p for p in preds if p.gold.startswith("report_")]
    oos = [p for p in preds if p.gold == OOS]
    predicted_oos = [p for p in preds if p.intent == OOS]
    latency = np.array([p.seconds for p in preds]) * 1000
    scripts = sorted({p.script for p in preds})
    return {
        "n": len(preds),
        "macro_f1": macro_f1(golds, final, labels),
        "macro_f1_before_fallback": macro_f1(golds, [p.classifier_intent for p in preds], labels),
        "accuracy": round(float(np.mean([p.intent == p.gold for p in preds])), 4),
        "per_category": f1_table(golds, final, labels),
        "accuracy_per_script": {
            s: {"accuracy": round(float(np.mean([p.intent == p.gold for p in preds if p.script == s])), 4),
                "n": sum(p.script == s for p in preds)}
            for s in scripts
        },
        "complaints_to_fallback": round(sum(p.intent == FALLBACK for p in reports) / max(len(reports), 1), 4),
        "complaints_to_out_of_scope": round(sum(p.intent == OOS for p in reports) / max(len(reports), 1), 4),
        "out_of_scope_precision": round(
            sum(p.gold == OOS for p in predicted_oos) / max(len(predicted_oos), 1), 4),
        "out_of_scope_filed_as_report": round(
            sum(p.intent.startswith("report_") for p in oos) / max(len(oos), 1), 4),
        "out_of_scope_to_fallback": round(sum(p.intent == FALLBACK for p in oos) / max(len(oos), 1), 4),
        "latency_ms": {"p50": round(float(np.percentile(latency, 50)), 2),
                       "p95": round(float(np.percentile(latency, 95)), 2),
                       "max": round(float(latency.max()), 2)},
        # Which label went where (no message texts: the held-out file is for measuring only).
        "confusions": {
            f"{gold} -> {pred}": n
            for (gold, pred), n in sorted(Counter((p.gold, p.intent) for p in preds if p.intent != p.gold).items())
        },
    }


def confusion_png(preds: list[Prediction], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    golds = sorted({p.gold for p in preds})
    extra = sorted({p.intent for p in preds} - set(golds))
    labels = golds + extra
    matrix = confusion_matrix([p.gold for p in preds], [p.intent for p in preds], labels=labels)
    matrix = matrix[: len(golds)]
    short = [label.replace("report_", "") for label in labels]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(labels), 1.5 + 0.5 * len(golds)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), short, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(golds)), short[: len(golds)], fontsize=8)
    ax.set_xlabel("predicted (final intent, after fallback)")
    ax.set_ylabel("held-out label")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- cross-validation ---------------------------------------------------------------------


def cross_validate(config: Path, training_data, folds: int, workdir: Path) -> dict[str, Any]:
    """Stratified k-fold over the training data; the same folds for every config (fixed seed)."""
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    intent_examples = training_data.intent_examples
    labels_all = [m.get("intent") for m in intent_examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    preds: list[Prediction] = []
    train_seconds = []
    for fold, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(labels_all)), labels_all)):
        fold_data = TrainingData(
            training_examples=[intent_examples[i] for i in train_idx],
            entity_synonyms=training_data.entity_synonyms,
            regex_features=training_data.regex_features,
            lookup_tables=training_data.lookup_tables,
        )
        data_file = workdir / f"fold{fold}.yml"
        data_file.write_text(fold_data.nlu_as_yaml(), encoding="utf-8")
        model, seconds = train_nlu(config, data_file, workdir, name=f"fold{fold}")
        train_seconds.append(seconds)
        parser = Parser(model)
        preds += predict(parser, [(intent_examples[i].get("text"), labels_all[i]) for i in test_idx])
        parser.close()
        model.unlink()
        log.info("fold %d/%d done (%.0f s training)", fold + 1, folds, seconds)
    golds = [p.gold for p in preds]
    labels = sorted(set(golds))
    report_labels = [label for label in labels if label.startswith("report_")] + [OOS]
    report_preds = [p for p in preds if p.gold in report_labels]
    return {
        "folds": folds,
        "examples": len(intent_examples),
        "macro_f1": macro_f1(golds, [p.intent for p in preds], labels),
        "macro_f1_reports_and_oos": macro_f1(
            [p.gold for p in report_preds], [p.intent for p in report_preds], report_labels),
        "accuracy": round(float(np.mean([p.intent == p.gold for p in preds])), 4),
        "per_script_accuracy": {
            s: round(float(np.mean([p.intent == p.gold for p in preds if p.script == s])), 4)
            for s in sorted({p.script for p in preds})
        },
        "macro_f1_before_fallback": macro_f1(golds, [p.classifier_intent for p in preds], labels),
        "fallback_rate": round(float(np.mean([p.intent == FALLBACK for p in preds])), 4),
        # What a FallbackClassifier threshold t would do: share of messages sent to fallback, and
        # accuracy of the rest counting fallback as wrong.
        "threshold_sweep": {
            str(t): {
                "fallback": round(float(np.mean([p.confidence < t for p in preds])), 4),
                "accuracy": round(float(np.mean([p.confidence >= t and p.classifier_intent == p.gold
                                                 for p in preds])), 4),
            }
            for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        },
        "per_intent_f1": {k: v["f1"] for k, v in f1_table(golds, [p.intent for p in preds], labels).items()},
        "train_seconds_mean": round(float(np.mean(train_seconds)), 1),
    }


# --- reports ------------------------------------------------------------------------------

TARGETS = {
    "heldout macro-F1": (">=", 0.95),
    "every category F1": (">=", 0.90),
    "each script's accuracy": (">=", 0.92),
    "cross-validation macro-F1": (">=", 0.93),
    "complaints to fallback": ("<=", 0.05),
    "out-of-scope filed as report": ("<=", 0.10),
    "parse p95 (ms)": ("<=", 50.0),
    "rasa train (s)": ("<=", 600.0),
}


def target_rows(results: dict[str, Any]) -> list[tuple[str, str, Any, bool]]:
    h = results["heldout"]
    values = {
        "heldout macro-F1": h["macro_f1"],
        "every category F1": min(v["f1"] for v in h["per_category"].values()),
        "each script's accuracy": min(v["accuracy"] for v in h["accuracy_per_script"].values()),
        "cross-validation macro-F1": (results.get("cross_validation") or {}).get("macro_f1"),
        "complaints to fallback": h["complaints_to_fallback"],
        "out-of-scope filed as report": h["out_of_scope_filed_as_report"],
        "parse p95 (ms)": h["latency_ms"]["p95"],
        "rasa train (s)": results.get("full_train_seconds"),
    }
    rows = []
    for name, (op, target) in TARGETS.items():
        value = values[name]
        ok = value is not None and (value >= target if op == ">=" else value <= target)
        rows.append((name, f"{op} {target}", value, ok))
    return rows


def write_markdown(results: dict[str, Any], path: Path) -> None:
    h = results["heldout"]
    lines = [
        "# NLU benchmark",
        "",
        f"Generated by `python -m bench.nlu` on {results['date']} ({results['machine']}).",
        f"Pipeline: `{results['config']}` — {results['pipeline_summary']}.",
        "",
        "## Targets",
        "",
        "| measure | target | value | met |",
        "|---|---|---|---|",
    ]
    for name, target, value, ok in target_rows(results):
        lines.append(f"| {name} | {target} | {value if value is not None else 'not measured'} | "
                     f"{'yes' if ok else 'NO'} |")
    lines += [
        "",
        f"NLU-only training: {results['nlu_train_seconds']} s. Full `rasa train`: "
        f"{results.get('full_train_seconds') or 'not measured (run with --full-train)'} s.",
        "",
        f"## Held-out set ({h['n']} messages, `tests/nlu/heldout.yml`)",
        "",
        f"- macro-F1 {h['macro_f1']} (before fallback: {h['macro_f1_before_fallback']}), accuracy {h['accuracy']}",
        f"- complaints that fell to fallback: {h['complaints_to_fallback']}; "
        f"filed as out_of_scope: {h['complaints_to_out_of_scope']}",
        f"- out_of_scope precision {h['out_of_scope_precision']}; out-of-scope messages filed as a report "
        f"{h['out_of_scope_filed_as_report']}, sent to fallback {h['out_of_scope_to_fallback']}",
        f"- parse latency per message: p50 {h['latency_ms']['p50']} ms, p95 {h['latency_ms']['p95']} ms, "
        f"max {h['latency_ms']['max']} ms",
        "",
        "| script | accuracy | n |",
        "|---|---|---|",
    ]
    for script, v in h["accuracy_per_script"].items():
        lines.append(f"| {script} | {v['accuracy']} | {v['n']} |")
    lines += ["", "| category | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for label, v in h["per_category"].items():
        lines.append(f"| {label} | {v['precision']} | {v['recall']} | {v['f1']} | {v['support']} |")
    cv = results.get("cross_validation")
    if cv:
        lines += [
            "",
            f"## Cross-validation ({cv['folds']}-fold, stratified, training data)",
            "",
            f"- macro-F1 over all {len(cv['per_intent_f1'])} intents: {cv['macro_f1']}; over the report intents "
            f"and out_of_scope: {cv['macro_f1_reports_and_oos']}; accuracy {cv['accuracy']}; "
            f"fallback rate {cv['fallback_rate']}",
            f"- accuracy per script: {cv['per_script_accuracy']}",
        ]
    lines += ["", "![confusion matrix](confusion_matrix.png)", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def pipeline_summary(config: Path) -> str:
    import yaml

    pipeline = yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
    return " → ".join(step["name"].rsplit(".", 1)[-1] for step in pipeline)


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, load average {load:.1f} at start"


# --- main ---------------------------------------------------------------------------------


def run_benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    config = Path(args.config)
    training_data = load_training_data(TRAIN_DATA)
    heldout = examples(load_training_data(HELDOUT))
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "config": str(config.resolve().relative_to(ROOT) if config.resolve().is_relative_to(ROOT) else config),
        "pipeline_summary": pipeline_summary(config),
        "training_examples": len(training_data.intent_examples),
    }
    if args.full_train:
        model, seconds = train_full(workdir / "full")
        results["full_train_seconds"] = round(seconds, 1)
        log.info("full rasa train: %.0f s", seconds)
    if args.model:  # measure an already trained model instead of training one
        model = Path(args.model)
        results["model"] = str(model)
        results["nlu_train_seconds"] = None
    else:
        model, seconds = train_nlu(config, TRAIN_DATA, workdir, name="bench")
        results["nlu_train_seconds"] = round(seconds, 1)
        log.info("NLU training: %.0f s", seconds)
    parser = Parser(model)
    for text in ("warm up", "गांव में शराब", "gaon me sharab"):
        parser.parse(text)
    preds = predict(parser, heldout)
    parser.close()
    results["heldout"] = heldout_metrics(preds)
    confusion_png(preds, Path(args.out) / "confusion_matrix.png",
                  f"held-out confusion matrix, macro-F1 {results['heldout']['macro_f1']}")
    if args.folds and not args.model:
        results["cross_validation"] = cross_validate(config, training_data, args.folds, workdir)
    return results


def run_comparison(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    training_data = load_training_data(TRAIN_DATA)
    out_file = Path(args.out) / "pipeline_comparison.json"
    previous = json.loads(out_file.read_text()) if out_file.exists() else {"candidates": {}}
    for candidate in args.compare:
        path = Path(candidate)
        log.info("cross-validating %s", path)
        cv = cross_validate(path, training_data, args.folds, workdir)
        cv["pipeline"] = pipeline_summary(path)
        cv["date"] = time.strftime("%Y-%m-%d %H:%M")
        cv["machine"] = machine()
        previous["candidates"][path.stem] = cv
        out_file.write_text(json.dumps(previous, indent=2, ensure_ascii=False), encoding="utf-8")
    write_comparison_markdown(previous, Path(args.out) / "pipeline_comparison.md")
    return previous


def write_comparison_markdown(results: dict[str, Any], path: Path) -> None:
    rows = sorted(results["candidates"].items(), key=lambda kv: -kv[1]["macro_f1"])
    lines = [
        "# Candidate pipelines: cross-validation",
        "",
        "Each candidate in `bench/candidates/` trained and tested on the same stratified folds of the "
        "training data (`data/nlu/`, fixed seed); the held-out file is not used here. Produced by "
        "`python -m bench.nlu --compare bench/candidates/*.yml`. Training seconds are per fold on a "
        "shared 2-core machine (other jobs were running), so compare them between rows only roughly. "
        "Each candidate uses the FallbackClassifier thresholds in its file; the 'before fallback' column does "
        "not depend on them, and `threshold_sweep` in the JSON shows what other thresholds would do "
        "(config.yml uses 0.2 and ambiguity 0.02). 'examples' is the size of the training data the row was "
        "measured on: rows on different data are not directly comparable.",
        "",
        "| candidate | examples | folds | macro-F1 (all intents) | before fallback | macro-F1 (reports + oos) | "
        "accuracy | devanagari | english | romanized | fallback rate | train s/fold |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, cv in rows:
        s = cv["per_script_accuracy"]
        lines.append(
            f"| {name} | {cv.get('examples', 'earlier data')} | {cv['folds']} | {cv['macro_f1']} | "
            f"{cv.get('macro_f1_before_fallback')} | "
            f"{cv['macro_f1_reports_and_oos']} | {cv['accuracy']} | "
            f"{s.get('devanagari')} | {s.get('english')} | {s.get('romanized')} | {cv['fallback_rate']} | "
            f"{cv['train_seconds_mean']} |"
        )
    lines += ["", "## Pipelines", ""]
    for name, cv in rows:
        lines.append(f"- **{name}**: {cv['pipeline']}")
    before = results.get("before")
    if before:
        lines += ["", "## Before: the previous pipeline on the held-out file", "", before["what"] + ".", "",
                  f"- held-out macro-F1 {before['heldout_macro_f1']}; lowest category F1 {before['min_category_f1']} "
                  f"({before['min_category']}); accuracy per script {before['accuracy_per_script']}",
                  f"- complaints to fallback {before['complaints_to_fallback']}; out-of-scope filed as a report "
                  f"{before['out_of_scope_filed_as_report']}; latency {before['latency_ms']} ms",
                  f"- cross-validation: {before['cross_validation']}"]
    for exploration in results.get("explorations", []):
        lines += ["", f"## {exploration['title']}", "", exploration["what"] + ".", "",
                  "| features | CV macro-F1 |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in exploration["rows"]]
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0: skip)")
    parser.add_argument("--full-train", action="store_true", help="also time a full `rasa train`")
    parser.add_argument("--compare", nargs="*", help="candidate configs to cross-validate instead")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--keep", action="store_true", help="keep the work directory (trained models)")
    parser.add_argument("--model", help="measure this trained model on the held-out set instead of training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="satark-bench-"))
    try:
        if args.compare:
            run_comparison(args, workdir)
            print((Path(args.out) / "pipeline_comparison.md").read_text(encoding="utf-8"))
            return 0
        results = run_benchmark(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    (Path(args.out) / "nlu.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    write_markdown(results, Path(args.out) / "nlu.md")
    print((Path(args.out) / "nlu.md").read_text(encoding="utf-8"))
    failed = [name for name, _, _, ok in target_rows(results) if not ok]
    if failed:
        print("targets not met: " + ", ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
