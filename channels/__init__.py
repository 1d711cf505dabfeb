"""Rasa input/output channels of Satark Mitra (the WhatsApp Cloud API connector)."""
