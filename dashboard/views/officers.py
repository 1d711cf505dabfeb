"""Designated officers per district (optionally per category): listed with masked numbers, kept by
admins and SP offices; DIG offices see their range's list."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.labels import t
from dashboard.ui import category_name, district_name, flash, form_key, renew_form, show_flash, signed_in_user

user = signed_in_user()
st.title(t("officers_title"))
show_flash()

listed = data.officers(user)
if listed:
    st.dataframe(pd.DataFrame([{
        t("officer_name"): officer.name,
        t("col_rank"): officer.rank,
        t("col_district"): district_name(officer.district),
        t("col_categories"): ", ".join(map(category_name, officer.categories)) or t("all"),
        t("col_phone"): officer.phone_masked,
        t("col_active"): t("yes") if officer.active else t("no"),
    } for officer in listed]), hide_index=True, width="stretch")
else:
    st.info(t("no_officers_listed"))

if user.role not in ("sp", "admin"):
    st.stop()

st.subheader(t("edit_officer"))
by_id = {officer.id: officer for officer in listed}
choice = by_id.get(st.selectbox(t("officer"), (None, *by_id), key="officer_choice", format_func=lambda i: t(
    "new_officer") if i is None else f"{by_id[i].rank} {by_id[i].name}"))
districts = user.district_codes or tuple(d.code for d in data.offices().districts)
with st.form(form_key(f"officer-{choice.id if choice else 'new'}"), clear_on_submit=True):
    name = st.text_input(t("officer_name"), value=choice.name if choice else "")
    rank = st.text_input(t("officer_rank"), value=choice.rank if choice else "")
    district = st.selectbox(t("district"), districts, format_func=district_name,
                            index=districts.index(choice.district) if choice and choice.district in districts else 0)
    phone = st.text_input(t("officer_phone_keep") if choice else t("officer_phone"), placeholder="+91 …")
    categories = st.multiselect(t("officer_categories"), data.category_keys(), format_func=category_name,
                                default=list(choice.categories) if choice else [])
    active = st.checkbox(t("officer_active"), value=choice.active if choice else True)
    if st.form_submit_button(t("save")):
        if not name.strip() or not (phone.strip() or choice):
            st.warning(t("empty_text"))
        else:
            try:
                data.save_officer(user, name=name.strip(), rank=rank.strip(), district=district,
                                  phone=phone.strip() or None, categories=tuple(categories),
                                  officer_id=choice.id if choice else None, active=active)
            except (ValueError, PermissionError, LookupError) as error:
                st.error(str(error))
            else:
                renew_form(f"officer-{choice.id if choice else 'new'}")
                flash(t("officer_saved"))
                st.rerun()
