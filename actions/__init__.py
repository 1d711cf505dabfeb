"""Rasa custom actions: thin classes; the work is done by the `satark` core package."""

import sys

from satark.logs import configure_logging
from satark.preflight import refuse_sdk_runner

# The action server has configured its logging by the time it imports the actions.
configure_logging()
refuse_sdk_runner(sys.argv)
