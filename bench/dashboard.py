"""Dashboard service-layer benchmark: the inbox and overview on 100,000 reports (see bench/README.md).

    python -m bench.dashboard                    # SQLite and PostgreSQL (127.0.0.1:5432)
    python -m bench.dashboard --reports 20000 --backends sqlite

For each database: a fresh database (a temporary SQLite file; a PostgreSQL database created and
dropped here), migrations, `satark.seed` with N reports (timed), then each service call the pages
make, timed over several runs after one warm-up (the dashboard caches results, so the first
uncached call of a page is what a user waits for). Writes bench/results/dashboard.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_SECONDS = 2.0
POSTGRES_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
PASSWORD = "benchmark password"


def _reset_caches() -> None:
    from satark.db import session as db_session
    from satark.offices import load_offices
    from satark.settings import get_receipt_secret, get_settings

    for cached in (get_settings, get_receipt_secret, db_session.get_engine, db_session.get_session_factory,
                   load_offices):
        cached.cache_clear()


@contextmanager
def sqlite_database():
    with tempfile.TemporaryDirectory(prefix="satark-bench-") as folder:
        yield f"sqlite:///{folder}/bench.db"


@contextmanager
def postgres_database():
    import psycopg2

    name = f"satark_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        from satark.db.session import get_engine

        get_engine().dispose()
        admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def _timed(call: Callable[[], Any], runs: int) -> dict[str, float]:
    call()  # warm-up: connection pool, statement compilation
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}


def measure(url: str, reports: int, runs: int) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    _reset_caches()
    from satark import auth, police, users
    from satark.db.migrate import upgrade
    from satark.police import InboxFilter
    from satark.seed import seed_reports

    upgrade()
    started = time.perf_counter()
    seed_reports(reports)
    seed_seconds = round(time.perf_counter() - started, 1)
    signed_in = {}
    for name, role, office in (("bench-sp", "sp", "SP-GZP"), ("bench-dig", "dig", "DIG-VNS")):
        users.add_user(name, PASSWORD, role, office)
        signed_in[role] = auth.sign_in(name, PASSWORD).user
    sp, dig = signed_in["sp"], signed_in["dig"]
    number = police.inbox(sp, InboxFilter()).rows[0].number
    last_month = InboxFilter(open_only=False, date_from=date.today() - timedelta(days=30))
    calls: dict[str, Callable[[], Any]] = {
        "inbox (SP, open, urgent first)": lambda: police.inbox(sp, InboxFilter()),
        "inbox (DIG, open, urgent first)": lambda: police.inbox(dig, InboxFilter()),
        "inbox (DIG, page 200)": lambda: police.inbox(dig, InboxFilter(), page=200),
        "inbox (DIG, all, newest, category + evidence)": lambda: police.inbox(dig, InboxFilter(
            open_only=False, sort="newest", categories=("illegal_liquor", "drugs"), has_evidence=True)),
        "inbox (DIG, text search)": lambda: police.inbox(dig, InboxFilter(open_only=False, text="canal")),
        "inbox (DIG, report number)": lambda: police.inbox(dig, InboxFilter(text=number.lower())),
        "overview (SP, all reports)": lambda: police.overview(sp, InboxFilter(open_only=False)),
        "overview (DIG, all reports)": lambda: police.overview(dig, InboxFilter(open_only=False)),
        "overview (DIG, last 30 days)": lambda: police.overview(dig, last_month),
        "report page (open_report)": lambda: police.open_report(sp, number),
        "new-report poll (newest_report_id)": lambda: police.newest_report_id(dig),
        "CSV export (DIG, last 30 days)": lambda: police.export_csv(dig, last_month),
    }
    timings = {label: _timed(call, runs) for label, call in calls.items()}
    return {"seed_seconds": seed_seconds, "calls": timings}


def _markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Dashboard service layer on {results['reports']:,} reports",
        "",
        f"Measured {results['date']} on {results['machine']} (load average at start {results['load']}), "
        f"{results['reports']:,} synthetic reports (`python -m satark.seed`), median and max of "
        f"{results['runs']} runs after one warm-up; target ≤ {TARGET_SECONDS:.0f} s for the inbox and the overview.",
        "",
    ]
    backends = [b for b in ("sqlite", "postgresql") if b in results["backends"]]
    lines.append("| call | " + " | ".join(f"{b} median / max (s)" for b in backends) + " |")
    lines.append("|---|" + "---|" * len(backends))
    labels = next(iter(results["backends"].values()))["calls"]
    for label in labels:
        cells = []
        for backend in backends:
            timing = results["backends"][backend]["calls"][label]
            cells.append(f"{timing['median_s']:.3f} / {timing['max_s']:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| seeding the reports (s) | " + " | ".join(
        f"{results['backends'][b]['seed_seconds']:.1f}" for b in backends) + " |")
    for backend, reason in results.get("skipped", {}).items():
        lines.append(f"\n{backend} not measured: {reason}")
    worst = max(t["max_s"] for b in results["backends"].values() for label, t in b["calls"].items()
                if label.startswith(("inbox", "overview")))
    verdict = "meets" if worst <= TARGET_SECONDS else "MISSES"
    lines += ["", f"Slowest inbox/overview call: {worst:.3f} s — {verdict} the {TARGET_SECONDS:.0f} s target.", ""]
    return "\n".join(lines)


def run_backends(prog: str, description: str, runs: int, measure_one: Callable[[str, int, int], Any],
                 doing: str, argv: list[str] | None = None) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parse the shared options, then seed each database and measure it with `measure_one(url,
    reports, runs)`; an unreachable PostgreSQL is reported, not fatal. Also used by bench.dashboard_pages."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ["SATARK_DEV_MODE"] = "true"
    os.environ.setdefault("SATARK_VAR_DIR", tempfile.mkdtemp(prefix="satark-bench-var-"))
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load": round(os.getloadavg()[0], 2), "reports": args.reports, "runs": args.runs,
        "backends": {}, "skipped": {},
    }
    databases = {"sqlite": sqlite_database, "postgresql": postgres_database}
    for backend in args.backends:
        print(f"{backend}: seeding {args.reports} reports and {doing}…", flush=True)
        try:
            with databases[backend]() as url:
                results["backends"][backend] = measure_one(url, args.reports, args.runs)
        except Exception as error:  # an unreachable server is reported, not fatal
            if backend == "sqlite":
                raise
            results["skipped"][backend] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            print(f"{backend} skipped: {results['skipped'][backend]}")
    args.out.mkdir(parents=True, exist_ok=True)
    return args, results


def main(argv: list[str] | None = None) -> None:
    args, results = run_backends("python -m bench.dashboard", __doc__, 5, measure, "measuring", argv)
    (args.out / "dashboard.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    report = _markdown(results)
    (args.out / "dashboard.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
