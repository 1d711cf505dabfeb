"""Helpers the pages share: the signed-in user, plain-text fields, human names, IST times, forms."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import data
from dashboard.labels import language, t
from satark.auth import UserView
from satark.taxonomy import STATUS_LABELS, get_category, outcome_label, status_label

IST = ZoneInfo("Asia/Kolkata")


def signed_in_user() -> UserView:
    """The router only shows a page to a signed-in user; this stops the page if that ever fails."""
    user = st.session_state.get("user")
    if user is None:
        st.stop()
    return user


def require_role(user: UserView, *roles: str) -> None:
    if user.role not in roles:
        st.error(t("not_allowed"))
        st.stop()


def plain(value: object) -> None:
    """Citizen text is shown exactly as written: never parsed as Markdown or HTML."""
    st.text("" if value is None else str(value))


def field(label: str, value: object) -> None:
    st.caption(label)
    plain(value if value not in (None, "") else "—")


def category_name(key: str) -> str:
    category = get_category(key)
    return category.label(language()) if category else key


def status_name(status: str | None) -> str:
    return status_label(status, language()) if status else "—"


def outcome_name(outcome: str | None) -> str:
    return outcome_label(outcome, language()) if outcome else "—"


def timeline_text(entry: dict) -> str:
    """Status events and forwards come in English; shown in the chosen language."""
    text = entry["text"]
    if entry["kind"] == "forward" and "officer" in entry:
        return t("forward_timeline", officer=entry["officer"], status=t(f"delivery_{entry['status']}"))
    if entry["kind"] == "status" and language() != "en":
        for status, names in STATUS_LABELS.items():
            if text == names["en"] or text.startswith(names["en"] + " — "):
                return status_label(status, language()) + text[len(names["en"]):]
    return text


def office_label(code: str) -> str:
    office = data.offices().office(code)
    return office.name.get(language(), office.name["en"]) if office else code


def district_name(code: str) -> str:
    district = data.offices().district(code)
    return district.label(language()) if district else code


def range_name(code: str) -> str:
    found = next((r for r in data.offices().ranges if r.code == code), None)
    return found.name.get(language(), found.name["en"]) if found else code


def office_name(user: UserView) -> str:
    names = user.office_name or {}
    return names.get(language()) or names.get("en") or user.office_code or t("role_admin")


def table_height(rows: int) -> int:
    """Tall enough for up to 50 rows without a scroll bar inside the table (the page scrolls)."""
    return 35 * (min(rows, 50) + 1) + 3


def to_hour(moment: datetime | None) -> str:
    """India time to the hour: exact minutes help re-identify a reporter."""
    if moment is None:
        return "—"
    local = moment.astimezone(IST) if moment.tzinfo else moment
    return local.strftime("%d %b %Y, %H:00 IST")


def to_minute(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(IST) if moment.tzinfo else moment
    return local.strftime("%d %b %Y, %H:%M IST")


def form_key(form: str) -> str:
    """The form's key carries a nonce that changes after each accepted submit: the old form and
    its widgets are gone, so a second click on its button (or a queued resubmit) does nothing."""
    return f"{form}-{st.session_state.setdefault(f'_nonce_{form}', uuid.uuid4().hex[:8])}"


def renew_form(form: str) -> None:
    st.session_state[f"_nonce_{form}"] = uuid.uuid4().hex[:8]


def flash(message: str) -> None:
    """A success message that survives the rerun after a write."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message)


def scope_filters(user: UserView, district_column: Any, category_column: Any,
                  prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The district (only for a user who sees several) and category pickers the inbox and the
    overview share; `prefix` keeps each page's widget state apart."""
    districts = ()
    if len(user.district_codes) > 1:
        districts = tuple(district_column.multiselect(t("district"), user.district_codes,
                                                      format_func=district_name, key=f"{prefix}_districts"))
    categories = tuple(category_column.multiselect(t("category"), data.category_keys(),
                                                   format_func=category_name, key=f"{prefix}_categories"))
    return districts, categories
