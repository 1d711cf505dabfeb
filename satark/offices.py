"""Ranges, districts and their offices, loaded from a YAML file (`OFFICES_FILE`).

Deployments differ only in this file: adding a district or a range needs no code change.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from satark.settings import get_settings
from satark.taxonomy import bilingual, label
from satark.text import match_key

FUZZY_CUTOFF = 0.8
# Inside a longer message only long words are compared loosely: short ones match too much.
MENTION_FUZZY_CUTOFF = 0.85
MENTION_FUZZY_MIN_LENGTH = 6


@dataclass(frozen=True)
class Office:
    code: str
    name: dict[str, str]
    kind: str  # "SP" for a district office, "DIG" for a range office, others (e.g. "VIG") per range


@dataclass(frozen=True)
class District:
    code: str
    name: dict[str, str]
    aliases: tuple[str, ...]
    office: Office
    range_code: str

    def label(self, language: str | None) -> str:
        return label(self.name, language)


@dataclass(frozen=True)
class PoliceRange:
    code: str
    name: dict[str, str]
    office: Office
    districts: tuple[District, ...]
    other_offices: tuple[Office, ...] = ()  # e.g. the range's vigilance office

    def office_of_kind(self, kind: str) -> Office | None:
        return next((o for o in (self.office, *self.other_offices) if o.kind == kind), None)


@dataclass(frozen=True)
class RoutingRule:
    """Reports of these categories also (or only) go to these targets, optionally flagged.

    A target is "SP" (the district's office), "DIG" (the range's office), the kind of another
    office of the range (e.g. "VIG"), or an office code.
    """

    categories: tuple[str, ...]
    also: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    flag: bool = False


@dataclass(frozen=True)
class OfficeDirectory:
    ranges: tuple[PoliceRange, ...]
    routing_rules: tuple[RoutingRule, ...] = ()

    @property
    def districts(self) -> tuple[District, ...]:
        return tuple(d for r in self.ranges for d in r.districts)

    @property
    def offices(self) -> tuple[Office, ...]:
        return tuple(o for r in self.ranges
                     for o in (r.office, *(d.office for d in r.districts), *r.other_offices))

    def district(self, code: str | None) -> District | None:
        return next((d for d in self.districts if d.code == code), None)

    def range_of(self, district: District) -> PoliceRange:
        return next(r for r in self.ranges if r.code == district.range_code)

    def office(self, code: str | None) -> Office | None:
        return next((o for o in self.offices if o.code == code), None)

    def range_of_office(self, code: str) -> PoliceRange | None:
        return next((r for r in self.ranges if code in {o.code for o in (
            r.office, *(d.office for d in r.districts), *r.other_offices)}), None)

    def district_codes_of_office(self, code: str) -> tuple[str, ...]:
        """The districts whose reports an office may receive: its own, or its whole range's."""
        district = next((d for d in self.districts if d.office.code == code), None)
        if district is not None:
            return (district.code,)
        police_range = self.range_of_office(code)
        return tuple(d.code for d in police_range.districts) if police_range else ()

    def match_district(self, text: str | None) -> District | None:
        """The district a citizen meant, from a name, code, list number or common misspelling."""
        key = match_key(text or "")
        if not key:
            return None
        if key.isdigit() and 1 <= int(key) <= len(self.districts):
            return self.districts[int(key) - 1]
        names = self._names()
        if key in names:
            return names[key]
        for word in key.split():  # "ghazipur me", "जिला गाज़ीपुर"
            if word in names:
                return names[word]
        close = difflib.get_close_matches(key, list(names), n=1, cutoff=FUZZY_CUTOFF)
        return names[close[0]] if close else None

    def find_district(self, text: str | None) -> District | None:
        """A district named anywhere in a longer message ("Ghazipur ke Saidpur thana me ...")."""
        words = match_key(text or "").split()
        names = self._names()
        for size in (3, 2, 1):
            for start in range(len(words) - size + 1):
                district = names.get(" ".join(words[start:start + size]))
                if district is not None:
                    return district
        for word in words:
            if len(word) >= MENTION_FUZZY_MIN_LENGTH:
                close = difflib.get_close_matches(word, list(names), n=1, cutoff=MENTION_FUZZY_CUTOFF)
                if close:
                    return names[close[0]]
        return None

    def _names(self) -> dict[str, District]:
        names: dict[str, District] = {}
        for district in self.districts:
            for name in (district.code, *district.name.values(), *district.aliases):
                names[match_key(name)] = district
        return names


def _office(data: dict, kind: str) -> Office:
    return Office(code=data["code"], name=bilingual(data["name"], data["code"]), kind=kind)


def _rule(data: dict, kinds: set[str], codes: set[str]) -> RoutingRule:
    rule = RoutingRule(categories=tuple(data.get("categories") or ()), also=tuple(data.get("also") or ()),
                       only=tuple(data.get("only") or ()), flag=bool(data.get("flag", False)))
    if not rule.categories:
        raise ValueError(f"routing rule {data!r}: `categories` is required")
    if rule.also and rule.only:
        raise ValueError(f"routing rule {data!r}: use either `also` or `only`, not both")
    unknown = [t for t in (*rule.also, *rule.only) if t not in {"SP", "DIG"} | kinds | codes]
    if unknown:
        raise ValueError(f"routing rule {data!r}: unknown target(s) {unknown} "
                         "(use SP, DIG, the kind of a range office or an office code)")
    return rule


def parse_offices(data: dict) -> OfficeDirectory:
    ranges = []
    for item in data["ranges"]:
        districts = tuple(
            District(
                code=d["code"],
                name=bilingual(d["name"], d["code"]),
                aliases=tuple(d.get("aliases", ())),
                office=_office(d["office"], "SP"),
                range_code=item["code"],
            )
            for d in item["districts"]
        )
        others = tuple(_office(o, str(o["kind"])) for o in item.get("other_offices") or ())
        ranges.append(PoliceRange(item["code"], bilingual(item["name"], item["code"]),
                                  _office(item["office"], "DIG"), districts, others))
    directory = OfficeDirectory(tuple(ranges))
    kinds = {o.kind for r in directory.ranges for o in r.other_offices}
    codes = {o.code for o in directory.offices}
    if len(codes) != len(directory.offices):
        raise ValueError("office codes must be unique")
    rules = tuple(_rule(rule, kinds, codes) for rule in data.get("routing_rules") or ())
    return OfficeDirectory(directory.ranges, rules)


@lru_cache(maxsize=4)
def load_offices(path: Path | None = None) -> OfficeDirectory:
    file = path or get_settings().offices_file
    return parse_offices(yaml.safe_load(Path(file).read_text(encoding="utf-8")))
