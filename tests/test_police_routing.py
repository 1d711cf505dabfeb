"""Routing rules in the offices file: complaints about the police are flagged and also reach the
range's vigilance office; a new rule needs no code change."""

from __future__ import annotations

import pytest
import yaml

from satark import police
from satark.offices import load_offices, parse_offices
from satark.routing import route
from satark.settings import PROJECT_ROOT
from satark.taxonomy import category_keys
from tests.conftest import clear_caches
from tests.support.police import submit, user

OFFICE_FILES = [PROJECT_ROOT / "config" / "offices.yml", PROJECT_ROOT / "config" / "offices_varanasi_zone.yml"]


def codes(routing) -> list[str]:
    return [office.code for office in routing.offices]


@pytest.mark.parametrize("path", OFFICE_FILES, ids=lambda p: p.name)
def test_shipped_rules_flag_police_corruption_and_add_vigilance(path):
    directory = load_offices(path)
    assert {c for rule in directory.routing_rules for c in rule.categories} <= set(category_keys())
    corruption = route(directory, directory.district("GZP"), "police_corruption")
    assert codes(corruption) == ["SP-GZP", "DIG-VNS", "VIG-VNS"] and corruption.flagged
    liquor = route(directory, directory.district("GZP"), "illegal_liquor")
    assert codes(liquor) == ["SP-GZP", "DIG-VNS"] and not liquor.flagged


def test_a_range_without_a_vigilance_office_keeps_sp_and_dig():
    directory = load_offices(OFFICE_FILES[1])
    assert codes(route(directory, directory.district("MZP"), "police_corruption")) == ["SP-MZP", "DIG-MZP"]


def _with_rules(rules: list[dict]) -> dict:
    data = yaml.safe_load(OFFICE_FILES[0].read_text(encoding="utf-8"))
    data["routing_rules"] = rules
    return data


def test_only_replaces_and_office_codes_are_targets():
    directory = parse_offices(_with_rules([
        {"categories": ["police_corruption"], "only": ["DIG", "VIG-VNS"], "flag": True},
        {"categories": ["drugs"], "also": ["SP-VNS"]},
    ]))
    assert codes(route(directory, directory.district("JNP"), "police_corruption")) == ["DIG-VNS", "VIG-VNS"]
    assert codes(route(directory, directory.district("JNP"), "drugs")) == ["SP-JNP", "DIG-VNS", "SP-VNS"]


@pytest.mark.parametrize(("rule", "problem"), [
    ({"categories": ["drugs"], "also": ["SSP-XYZ"]}, "unknown target"),
    ({"categories": ["drugs"], "also": ["DIG"], "only": ["DIG"]}, "either"),
    ({"also": ["DIG"]}, "categories"),
])
def test_mistakes_in_rules_are_reported(rule, problem):
    with pytest.raises(ValueError, match=problem):
        parse_offices(_with_rules([rule]))


def test_a_rule_added_to_the_file_routes_submitted_reports(runtime, monkeypatch, tmp_path):
    offices_file = tmp_path / "offices.yml"
    offices_file.write_text(yaml.safe_dump(_with_rules([
        {"categories": ["police_corruption"], "only": ["DIG", "VIG"], "flag": True}]), allow_unicode=True),
        encoding="utf-8")
    monkeypatch.setenv("OFFICES_FILE", str(offices_file))
    clear_caches()
    complaint = submit("GZP", "police_corruption", description="thana me paise maange").public_number
    liquor = submit("GZP", "illegal_liquor").public_number
    vigilance, sp = user("vig-vns", "dig", "VIG-VNS"), user("sp-gzp", "sp", "SP-GZP")
    assert [r.number for r in police.inbox(vigilance, police.InboxFilter()).rows] == [complaint]
    assert police.inbox(vigilance, police.InboxFilter()).rows[0].flagged
    assert [r.number for r in police.inbox(sp, police.InboxFilter()).rows] == [liquor]
    assert police.open_report(sp, complaint) is None
    assert police.open_report(vigilance, complaint).routed_to == ("DIG-VNS", "VIG-VNS")
