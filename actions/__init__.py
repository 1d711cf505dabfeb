"""Rasa custom actions: thin classes; the work is done by the `satark` core package."""
