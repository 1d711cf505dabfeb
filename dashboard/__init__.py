"""Streamlit dashboard for the SP and DIG offices."""

from satark.logs import configure_logging

# Streamlit has configured its logging before it runs the app: redact and quiet it from here on.
configure_logging()
