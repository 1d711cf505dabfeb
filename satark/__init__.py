"""Satark Mitra core: what the actions, the WhatsApp connector and the dashboard share."""
