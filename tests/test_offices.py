"""Districts and offices come from a data file; switching files needs no code change."""

from pathlib import Path

import pytest

from satark.offices import load_offices
from satark.routing import receiving_offices
from satark.settings import PROJECT_ROOT

ZONE_FILE = PROJECT_ROOT / "config" / "offices_varanasi_zone.yml"


@pytest.mark.parametrize("typed, code", [
    ("Ghazipur", "GZP"), ("गाज़ीपुर", "GZP"), ("गाजीपुर", "GZP"), ("gazipur", "GZP"), ("GHAZIPUR ", "GZP"),
    ("ghazipurr", "GZP"), ("jila ghazipur me", "GZP"), ("जौनपुर", "JNP"), ("jonpur", "JNP"),
    ("Chandauli", "CDL"), ("चंदौली", "CDL"), ("chandoli", "CDL"), ("banaras", "VNS"), ("Varanasi", "VNS"),
    ("2", "JNP"),
])
def test_district_spellings_are_recognised(runtime, typed, code):
    assert load_offices().match_district(typed).code == code


@pytest.mark.parametrize("typed", ["Lucknow", "xyz", "", "   ", "12", "मेरठ"])
def test_unknown_districts_are_not_guessed(runtime, typed):
    assert load_offices().match_district(typed) is None


def test_report_goes_to_district_sp_and_range_dig(runtime):
    directory = load_offices()
    offices = receiving_offices(directory, directory.district("CDL"))
    assert [(o.code, o.kind) for o in offices] == [("SP-CDL", "SP"), ("DIG-VNS", "DIG")]


def test_default_file_is_the_varanasi_range(runtime):
    directory = load_offices()
    assert [d.name["en"] for d in directory.districts] == ["Varanasi", "Jaunpur", "Ghazipur", "Chandauli"]


def test_switching_to_the_zone_file_needs_no_code_change(runtime, monkeypatch):
    from tests.conftest import clear_caches

    monkeypatch.setenv("OFFICES_FILE", str(ZONE_FILE))
    clear_caches()
    directory = load_offices()
    assert len(directory.ranges) == 3
    assert len(directory.districts) == 9
    assert directory.match_district("मिर्जापुर").code == "MZP"
    assert directory.match_district("ballia").code == "BLA"
    offices = receiving_offices(directory, directory.match_district("sonbhadra"))
    assert [o.code for o in offices] == ["SP-SBD", "DIG-MZP"]
    assert Path(ZONE_FILE).exists()


def test_every_office_and_category_has_hindi_and_english_names(runtime):
    from satark.taxonomy import load_categories

    directory = load_offices()
    assert all(set(o.name) == {"hi", "en"} for o in directory.offices)
    assert directory.district("GZP").office.name["en"] == "SP Office, Ghazipur"
    categories = load_categories()
    assert get_drugs(categories).description["en"] == "Ganja, smack, heroin, pills and other drugs"


def get_drugs(categories):
    return next(c for c in categories if c.key == "drugs")


def test_a_name_without_both_languages_is_refused(tmp_path):
    from satark.offices import parse_offices

    broken = {"ranges": [{"code": "R", "name": {"en": "Range"}, "office": {"code": "D", "name": {"en": "x", "hi": "y"}},
                          "districts": []}]}
    with pytest.raises(ValueError, match="Hindi and English"):
        parse_offices(broken)
