"""The police stations (thanas) of each district, from a data file beside the offices file.

A citizen often names the police-station area instead of (or besides) the district: "Saidpur
thana", "थाना सकलडीहा". Recognising it fills the place, and the district when the name belongs
to one district only. Stations of districts the offices file does not list are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from satark.offices import load_offices
from satark.settings import get_settings
from satark.taxonomy import bilingual, label
from satark.text import match_key

# Words that say a name is a police-station area; short names count only next to one.
STATION_WORDS = frozenset(map(match_key, (
    "thana", "thane", "thaane", "ps", "kotwali", "chowki", "chauki", "kshetra", "ilaka", "ilake", "area",
    "police station", "थाना", "थाने", "कोतवाली", "चौकी", "क्षेत्र", "इलाका", "इलाके",
)))
SHORT_NAME = 6


@dataclass(frozen=True)
class PoliceStation:
    district_code: str
    name: dict[str, str]
    keys: tuple[str, ...]

    def label(self, language: str | None) -> str:
        return label(self.name, language)


@dataclass(frozen=True)
class Gazetteer:
    stations: tuple[PoliceStation, ...]
    area: dict[str, str]

    def area_text(self, station: PoliceStation, language: str | None) -> str:
        """"Saidpur police station area" / "थाना सैदपुर क्षेत्र"."""
        return label(self.area, language).format(name=station.label(language))

    def find(self, text: str | None, district_code: str | None = None) -> PoliceStation | None:
        """The police station named in a message; with several candidates, one of `district_code`."""
        words = match_key(text or "").split()
        padded = f" {' '.join(words)} "
        marked = bool(STATION_WORDS & set(words)) or " police station " in padded
        found = [s for s in self.stations
                 if any(f" {key} " in padded and (marked or len(key) >= SHORT_NAME) for key in s.keys)]
        in_district = [s for s in found if s.district_code == district_code]
        if in_district:
            return in_district[0]
        districts = {s.district_code for s in found}
        return found[0] if len(districts) == 1 and district_code is None else None


def parse_gazetteer(data: dict, district_codes: set[str]) -> Gazetteer:
    stations = []
    for code, items in (data.get("districts") or {}).items():
        if code not in district_codes:
            continue
        for item in items:
            name = bilingual({"en": item["en"], "hi": item["hi"]}, f"{code}/{item['en']}")
            keys = {match_key(n) for n in (*name.values(), *item.get("aliases", ()))}
            stations.append(PoliceStation(code, name, tuple(sorted(k for k in keys if k))))
    return Gazetteer(tuple(stations), bilingual(data["area"], "area"))


@lru_cache(maxsize=4)
def load_gazetteer(path: Path | None = None) -> Gazetteer:
    file = path or get_settings().police_stations_file
    data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    return parse_gazetteer(data, {d.code for d in load_offices().districts})
