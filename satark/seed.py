"""Fill a database with realistic synthetic reports for demos and benchmarks (never in production).

    python -m satark.seed --reports 100000

Reports are spread over districts, categories and the past year (more by day than by night), move
through the workflow with plausible delays, and some carry evidence rows, follow-ups, messages and
forwards' routes, as the real system stores them. Rows go in by bulk inserts, in chunks.
Synthetic receipt hashes open nothing: there is no receipt code behind them. Keys are random,
so seeding twice adds more reports; the contents follow `--seed`.
"""

from __future__ import annotations

import argparse
import random
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import sessionmaker

from satark.db.models import EvidenceItem, Office, Report, ReportMessage, ReportRoute, StatusChange
from satark.db.session import get_session_factory
from satark.offices import OfficeDirectory, load_offices
from satark.reports import sync_offices
from satark.routing import route
from satark.settings import get_settings

CHUNK = 5000
CATEGORY_WEIGHTS = {
    "illegal_liquor": 18, "drugs": 12, "gambling": 10, "crime_against_women": 10, "serious_crime": 9,
    "cattle_smuggling": 8, "extortion": 7, "illegal_mining": 6, "illegal_arms": 5, "police_corruption": 5,
    "prostitution": 4, "human_trafficking": 3, "forced_conversion": 3,
}
WHAT = {
    "illegal_liquor": ("Country liquor is made and sold", "कच्ची शराब बनाई और बेची जा रही है"),
    "drugs": ("Smack and ganja are sold to young boys", "लड़कों को स्मैक और गांजा बेचा जा रहा है"),
    "gambling": ("A gambling den runs every evening", "हर शाम जुए का अड्डा चलता है"),
    "crime_against_women": ("Girls going to school are harassed", "स्कूल जाती लड़कियों को परेशान किया जाता है"),
    "serious_crime": ("A gang is planning a robbery", "एक गिरोह लूट की योजना बना रहा है"),
    "cattle_smuggling": ("Cattle are loaded into trucks at night", "रात में ट्रकों में मवेशी लादे जाते हैं"),
    "extortion": ("Shopkeepers are forced to pay money", "दुकानदारों से ज़बरदस्ती पैसे वसूले जाते हैं"),
    "illegal_mining": ("Sand is mined from the river bed", "नदी से अवैध बालू खनन हो रहा है"),
    "illegal_arms": ("Country-made pistols are sold", "देसी तमंचे बेचे जा रहे हैं"),
    "police_corruption": ("Money is demanded to register a complaint", "शिकायत दर्ज करने के लिए पैसे मांगे जाते हैं"),
    "prostitution": ("A house is used for prostitution", "एक मकान में देह व्यापार चलता है"),
    "human_trafficking": ("Children are taken away for work", "बच्चों को काम के लिए ले जाया जाता है"),
    "forced_conversion": ("People are pressured to convert", "लोगों पर धर्म बदलने का दबाव डाला जाता है"),
}
PLACES = ("near the canal", "behind the primary school", "at the bus stand", "near the temple", "by the highway dhaba",
          "in the weekly market", "near the brick kiln", "at the railway crossing", "behind the petrol pump")
VILLAGES = ("Saidpur", "Zamania", "Mohammadabad", "Kasimabad", "Machhlishahr", "Badlapur", "Shahganj", "Mughalsarai",
            "Sakaldiha", "Chakia", "Pindra", "Rohania", "Cholapur", "Kerakat", "Dildarnagar", "Bhanwarkol")
WHEN = (("every night", "हर रात"), ("since last week", "पिछले हफ़्ते से"), ("yesterday evening", "कल शाम"),
        ("every Sunday", "हर रविवार"), ("right now", "अभी"))
DETAILS = (("Two men on a motorcycle", "दो लोग मोटरसाइकिल पर"), ("A white pickup van comes", "एक सफ़ेद पिकअप आती है"),
           ("About ten people gather", "करीब दस लोग जमा होते हैं"), ("The local dealer is known to all", "सब जानते हैं"))
EVIDENCE = (("image", "image/jpeg", 180_000), ("voice", "audio/ogg", 60_000), ("video", "video/mp4", 4_000_000),
            ("document", "application/pdf", 250_000))
FOLLOWUPS = ("They came again today.", "आज फिर आए थे।", "The van number starts with UP 61.")
POLICE_MESSAGES = ("Thank you, a team will visit.", "धन्यवाद, टीम जाएगी।", "Please share the time they usually come.")
OUTCOME_WEIGHTS = {"action_taken": 55, "no_evidence": 30, "false_report": 8, "duplicate": 7}
# By the report's age: how far it has moved through the workflow.
WORKFLOW = ("new", "acknowledged", "assigned", "under_investigation", "action_taken", "closed")
STATUS_WEIGHTS_BY_AGE = ((2, (60, 25, 10, 5, 0, 0)), (14, (10, 15, 20, 30, 10, 15)),
                         (10_000, (3, 5, 7, 15, 20, 50)))


def _status(rng: random.Random, age_days: float) -> str:
    for limit, weights in STATUS_WEIGHTS_BY_AGE:
        if age_days < limit:
            return rng.choices(WORKFLOW, weights)[0]
    raise AssertionError("unreachable")


def _created(rng: random.Random, now: datetime, days: int) -> datetime:
    """Uniform over the days, more often by day (India's time) than at night."""
    day = now - timedelta(days=rng.random() * days)
    hour_ist = rng.choices(range(24), [1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 5, 4, 3, 2])[0]
    moment = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        hours=hour_ist - 5.5, seconds=rng.random() * 3600)
    return min(moment, now - timedelta(seconds=rng.random() * 60))


class _Rows:
    """Rows per table, flushed to the database in chunks."""

    def __init__(self) -> None:
        self.tables: dict[type, list[dict]] = {Report: [], ReportRoute: [], StatusChange: [], EvidenceItem: [],
                                               ReportMessage: []}

    def flush(self, factory: sessionmaker) -> None:
        with factory.begin() as session:
            for model, rows in self.tables.items():
                if rows:
                    session.execute(insert(model), rows)
                    rows.clear()


def seed_reports(count: int, factory: sessionmaker | None = None, directory: OfficeDirectory | None = None,
                 *, days: int = 365, rng_seed: int = 11) -> int:
    """Add `count` synthetic reports; returns how many were added."""
    factory = factory or get_session_factory()
    directory = directory or load_offices()
    rng = random.Random(rng_seed)  # noqa: S311 - synthetic contents, not secrets
    with factory.begin() as session:
        sync_offices(session, directory)
    with factory.begin() as session:
        office_ids = dict(session.execute(select(Office.code, Office.id)).all())
        next_id = (session.execute(select(func.max(Report.id))).scalar_one() or 0) + 1
    districts = directory.districts
    categories, weights = list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values())
    routings = {(d.code, c): route(directory, d, c) for d in districts for c in categories}
    now = datetime.now(timezone.utc)
    rows = _Rows()
    for report_id in range(next_id, next_id + count):
        district = districts[rng.randrange(len(districts))]
        category = rng.choices(categories, weights)[0]
        created = _created(rng, now, days)
        age_days = (now - created).total_seconds() / 86400
        status = _status(rng, age_days)
        language = 1 if rng.random() < 0.6 else 0  # 0: English, 1: Hindi
        routing = routings[(district.code, category)]
        report = _report(rng, report_id, district.code, district.range_code, category, created, now, status,
                         language, routing.flagged)
        rows.tables[Report].append(report)
        rows.tables[ReportRoute] += [{"report_id": report_id, "office_id": office_ids[o.code]}
                                     for o in routing.offices]
        rows.tables[StatusChange] += _history(report, rng)
        rows.tables[EvidenceItem] += _evidence(rng, report_id, created)
        rows.tables[ReportMessage] += _messages(rng, report, now)
        if len(rows.tables[Report]) >= CHUNK:
            rows.flush(factory)
    rows.flush(factory)
    with factory.begin() as session:
        if session.get_bind().dialect.name == "postgresql":  # planner statistics, as autovacuum gathers
            session.execute(text("ANALYZE"))
    return count


def _report(rng: random.Random, report_id: int, district: str, range_code: str, category: str,
            created: datetime, now: datetime, status: str, language: int, flagged: bool) -> dict:
    index = WORKFLOW.index(status)
    acknowledged = closed = None
    if index >= 1:
        acknowledged = min(created + timedelta(hours=rng.lognormvariate(1.6, 1.0)), now)
    if status == "closed":
        closed = min(acknowledged + timedelta(days=rng.lognormvariate(2.0, 0.8)), now)
    outcome = rng.choices(list(OUTCOME_WEIGHTS), list(OUTCOME_WEIGHTS.values()))[0] if closed else None
    village = rng.choice(VILLAGES)
    return {
        "id": report_id, "public_number": f"{district}-{created:%Y}-{report_id:05d}",
        "draft_key": uuid.uuid4().hex, "receipt_hash": secrets.token_hex(32),
        "category": category, "district_code": district, "range_code": range_code,
        "description": f"{WHAT[category][language]} — {village}", "place": f"{village}, {rng.choice(PLACES)}",
        "incident_time": rng.choice(WHEN)[language], "details": rng.choice(DETAILS)[language],
        "evidence_note": None, "language": ("en", "hi")[language], "urgent": rng.random() < 0.07,
        "status": status, "outcome": outcome, "duplicate_of": None, "flagged": flagged,
        "created_at": created, "updated_at": closed or acknowledged or created,
        "acknowledged_at": acknowledged, "closed_at": closed,
    }


def _history(report: dict, rng: random.Random) -> list[dict]:
    steps = WORKFLOW[: WORKFLOW.index(report["status"]) + 1]
    history = [{"report_id": report["id"], "status": "new", "note": "submitted by reporter", "changed_by": None,
                "changed_at": report["created_at"]}]
    if len(steps) > 1:
        start, end = report["acknowledged_at"], report["closed_at"] or report["acknowledged_at"]
        for position, status in enumerate(steps[1:]):
            at = start + (end - start) * (position / max(1, len(steps) - 2))
            history.append({"report_id": report["id"], "status": status, "note": None,
                            "changed_by": "seed", "changed_at": at})
    return history


def _evidence(rng: random.Random, report_id: int, created: datetime) -> list[dict]:
    if rng.random() > 0.3:
        return []
    items = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind, mime, size = rng.choice(EVIDENCE)
        items.append({"id": uuid.uuid4().hex, "report_id": report_id, "kind": kind,
                      "mime_type": mime, "size_bytes": int(size * (0.5 + rng.random())), "sha256": None,
                      "stored_name": None, "caption": None, "metadata_stripped": True, "transcript": None,
                      "created_at": created})
    return items


def _messages(rng: random.Random, report: dict, now: datetime) -> list[dict]:
    messages = []
    if rng.random() < 0.1:
        messages.append({"report_id": report["id"], "direction": "from_reporter", "body": rng.choice(FOLLOWUPS),
                         "office_code": None, "created_at": min(report["created_at"] + timedelta(days=1), now)})
    if report["acknowledged_at"] and rng.random() < 0.2:
        messages.append({"report_id": report["id"], "direction": "to_reporter", "body": rng.choice(POLICE_MESSAGES),
                         "office_code": None, "created_at": report["acknowledged_at"]})
    return messages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m satark.seed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1000, help="how many reports to add (default 1000)")
    parser.add_argument("--days", type=int, default=365, help="spread over this many past days")
    parser.add_argument("--seed", type=int, default=11, help="random seed (same seed, same data)")
    args = parser.parse_args(argv)
    settings = get_settings()
    if not settings.dev_mode:
        parser.error("seeding adds fake reports: only in development mode (SATARK_DEV_MODE=true)")
    started = time.perf_counter()
    added = seed_reports(args.reports, days=args.days, rng_seed=args.seed)
    print(f"added {added} synthetic reports in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
