"""Dashboard pages as rendered: Streamlit AppTest runs of the inbox and the overview on 100,000 reports.

    python -m bench.dashboard_pages                      # SQLite and PostgreSQL (127.0.0.1:5432)
    python -m bench.dashboard_pages --reports 20000 --backends sqlite

bench/dashboard.py times the service calls; this times what a user waits for: the whole script run
of a page (router, session check, queries, building the table and charts). "Cold" clears Streamlit's
data cache before each run (the first view, or after the cache's short TTL); "cached" is a rerun
within the TTL (any click on the page). Writes bench/results/dashboard_pages.md.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.dashboard import PASSWORD, TARGET_SECONDS, _reset_caches, run_backends

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = {"inbox": None, "overview": "views/overview.py"}


def _page_run(user, page: str | None, cold: bool) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=120)
    now = datetime.now(timezone.utc)
    app.session_state["user"], app.session_state["signed_in_at"], app.session_state["last_seen_at"] = user, now, now
    if page:
        app.switch_page(page)
    if cold:
        st.cache_data.clear()
    started = time.perf_counter()
    app.run()
    elapsed = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(app.exception[0].message)
    return elapsed


def measure(url: str, reports: int, runs: int) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    _reset_caches()
    from satark import auth, users
    from satark.db.migrate import upgrade
    from satark.seed import seed_reports

    upgrade()
    seed_reports(reports)
    results = {}
    for name, role, office in (("bench-sp", "sp", "SP-GZP"), ("bench-dig", "dig", "DIG-VNS")):
        users.add_user(name, PASSWORD, role, office)
        user = auth.sign_in(name, PASSWORD).user
        for page, path in PAGES.items():
            _page_run(user, path, cold=True)  # warm-up: imports, connection pool
            for cold in (True, False):
                times = [_page_run(user, path, cold) for _ in range(runs)]
                label = f"{page} ({role.upper()}, {'cold' if cold else 'cached'})"
                results[label] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}
    return results


def _markdown(results: dict[str, Any]) -> str:
    backends = list(results["backends"])
    lines = [
        f"# Dashboard pages on {results['reports']:,} reports (AppTest script runs)",
        "",
        f"Measured {results['date']} on {results['machine']} (load average at start {results['load']}), "
        f"{results['reports']:,} synthetic reports (`python -m satark.seed`), median and max of {results['runs']} "
        f"runs after one warm-up. The inbox shows the first 50 open reports, urgent first; the overview all "
        f"reports. Target ≤ {TARGET_SECONDS:.0f} s.",
        "",
        "| page | " + " | ".join(f"{b} median / max (s)" for b in backends) + " |",
        "|---|" + "---|" * len(backends),
    ]
    for label in next(iter(results["backends"].values())):
        cells = [f"{results['backends'][b][label]['median_s']:.3f} / {results['backends'][b][label]['max_s']:.3f}"
                 for b in backends]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for backend, reason in results["skipped"].items():
        lines.append(f"\n{backend} not measured: {reason}")
    worst = max(t["max_s"] for b in results["backends"].values() for t in b.values())
    verdict = "meets" if worst <= TARGET_SECONDS else "MISSES"
    lines += ["", f"Slowest page run: {worst:.3f} s — {verdict} the {TARGET_SECONDS:.0f} s target.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args, results = run_backends("python -m bench.dashboard_pages", __doc__, 3, measure, "rendering pages", argv)
    report = _markdown(results)
    (args.out / "dashboard_pages.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
