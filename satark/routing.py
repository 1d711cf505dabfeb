"""Which offices receive a report: the district's SP office and its range's DIG office, changed by
the routing rules of the offices file (e.g. complaints about the police also go to vigilance)."""

from __future__ import annotations

from dataclasses import dataclass

from satark.offices import District, Office, OfficeDirectory, PoliceRange


@dataclass(frozen=True)
class Routing:
    offices: tuple[Office, ...]
    flagged: bool


def _resolve(directory: OfficeDirectory, police_range: PoliceRange, district: District,
             target: str) -> Office | None:
    if target == "SP":
        return district.office
    return police_range.office_of_kind(target) or directory.office(target)


def route(directory: OfficeDirectory, district: District, category: str | None = None) -> Routing:
    police_range = directory.range_of(district)
    targets: list[str] = ["SP", "DIG"]
    flagged = False
    for rule in directory.routing_rules:
        if category not in rule.categories:
            continue
        targets = list(rule.only) if rule.only else targets + list(rule.also)
        flagged = flagged or rule.flag
    offices: list[Office] = []
    for target in targets:
        office = _resolve(directory, police_range, district, target)
        if office is not None and office not in offices:
            offices.append(office)
    return Routing(tuple(offices) or (police_range.office,), flagged)  # never to no one


def receiving_offices(directory: OfficeDirectory, district: District,
                      category: str | None = None) -> tuple[Office, ...]:
    return route(directory, district, category).offices
