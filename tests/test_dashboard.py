"""The dashboard renders reports routed to the chosen office, and nothing that identifies reporters."""

from __future__ import annotations

import uuid

from streamlit.testing.v1 import AppTest

from satark import reports
from satark.settings import PROJECT_ROOT

APP = str(PROJECT_ROOT / "dashboard" / "app.py")


def submit(district: str, place: str) -> str:
    return reports.submit_report(reports.ReportDraft(
        draft_key=uuid.uuid4().hex, category="illegal_mining", district_code=district,
        description="JCB se raat me balu khanan", place=place, incident_time="every night",
        details="dumpers without number plates", language="hi")).public_number


def test_sp_office_sees_its_district_and_dig_sees_the_range(runtime):
    ghazipur = submit("GZP", "Zamania ghat")
    chandauli = submit("CDL", "Sakaldiha")
    app = AppTest.from_file(APP, default_timeout=30)
    app.session_state["office"] = "SP-GZP"
    app.run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["number"]) == [ghazipur]

    app.sidebar.selectbox[0].set_value("DIG-VNS").run()
    assert not app.exception
    assert set(app.dataframe[0].value["number"]) == {ghazipur, chandauli}
