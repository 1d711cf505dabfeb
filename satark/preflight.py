"""Start-up checks: outside development mode no service starts with a door left open.

`python -m satark.preflight rasa actions` prints every problem and exits non-zero
(scripts/run.sh runs it first); the Rasa server (through the WhatsApp connector) and the action
server (`satark.action_server`) run the same checks themselves, so starting them by hand is no way
around it. In development mode (`SATARK_DEV_MODE=true`) nothing is refused.
"""

from __future__ import annotations

import ipaddress
import os
import resource
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from satark.secret_policy import secret_problem, weak_secrets
from satark.settings import PROJECT_ROOT, get_settings

SERVICES = ("rasa", "actions")
DEFAULT_HOST = "127.0.0.1"
# Channels that may be listed in credentials.yml outside development mode.
DEV_ONLY_CHANNELS = ("rest", "socketio", "callback", "rasa.core.channels.rest.RestInput")


def harden_process() -> None:
    """Owner-only files (umask 077: databases, evidence, logs) and no core dumps (they would hold
    the phone numbers of the messages being answered). Called by every service at start."""
    os.umask(0o077)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


class UnsafeStart(RuntimeError):
    """A service would start with something open that must be closed outside development mode."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _option(argv: Sequence[str], *names: str) -> str | None:
    """The value of a command-line option (`--name value` or `--name=value`), else None."""
    for index, argument in enumerate(argv):
        for name in names:
            if argument == name and index + 1 < len(argv):
                return argv[index + 1]
            if argument.startswith(name + "="):
                return argument.split("=", 1)[1]
    return None


def rasa_problems(environ: Mapping[str, str], argv: Sequence[str] = ()) -> list[str]:
    """The Rasa server: secrets, the HTTP API, and which channels listen."""
    secrets = ("ANONYMIZATION_KEY", "RECEIPT_SECRET", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
    return weak_secrets(secrets, dict(environ)) + server_problems(environ, argv)


def server_problems(environ: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    """What `rasa run` would open: the HTTP API without a token, development-only channels."""
    problems = []
    if "--enable-api" in argv and not (_option(argv, "--auth-token", "-t") or _option(argv, "--jwt-secret")):
        problems.append("Rasa's HTTP API is enabled without --auth-token: anyone who reaches the port could "
                        "replace the model and read every conversation. Set RASA_API_TOKEN or leave the API off.")
    token = _option(argv, "--auth-token", "-t")
    if token and secret_problem(token):
        problems.append(f"Rasa's --auth-token {secret_problem(token)}.")
    if environ.get("RASA_API_TOKEN"):
        problems += weak_secrets(("RASA_API_TOKEN",), dict(environ))
    credentials = Path(_option(argv, "--credentials") or "credentials.yml")
    credentials = credentials if credentials.is_absolute() else PROJECT_ROOT / credentials
    if credentials.exists():
        configured = yaml.safe_load(credentials.read_text(encoding="utf-8")) or {}
        for channel in DEV_ONLY_CHANNELS:
            if channel in configured:
                problems.append(f"the '{channel}' channel in {credentials.name} accepts any sender and raw "
                                "/intent text: it is for development only (channels.dev_rest.DevRestInput).")
    return problems


def actions_problems(environ: Mapping[str, str]) -> list[str]:
    """The action server: reachable only by Rasa."""
    problems = weak_secrets(("RECEIPT_SECRET",), dict(environ))
    host = environ.get("ACTIONS_HOST") or DEFAULT_HOST
    if environ.get("ACTION_SERVER_TOKEN"):
        problems += weak_secrets(("ACTION_SERVER_TOKEN",), dict(environ))
    elif not is_loopback(host):
        problems.append(f"the action server would listen on {host} without ACTION_SERVER_TOKEN: anyone on that "
                        "network could run actions (and skip the wrong-code limits). Bind it to 127.0.0.1 or "
                        "set ACTION_SERVER_TOKEN (and token: ${ACTION_SERVER_TOKEN} in endpoints.yml).")
    return problems


def problems(services: Sequence[str], environ: Mapping[str, str] | None = None,
             argv: Sequence[str] = ()) -> list[str]:
    """Every reason the named services must not start; empty in development mode."""
    environ = os.environ if environ is None else environ
    if get_settings().dev_mode:
        return []
    found: list[str] = []
    if "rasa" in services:
        found += rasa_problems(environ, argv)
    if "actions" in services:
        found += actions_problems(environ)
    return list(dict.fromkeys(found))


def enforce(services: Sequence[str], argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> None:
    """Raise `UnsafeStart` listing every problem (used inside the services themselves)."""
    found = problems(services, environ, argv)
    if found:
        raise UnsafeStart("refusing to start outside development mode:\n- " + "\n- ".join(found))


def refuse_sdk_runner(argv: Sequence[str]) -> None:
    """rasa-sdk's own runner (`rasa run actions`) listens on every interface with no token and no body
    limit: outside development mode the action server must be started as `python -m satark.action_server`."""
    if get_settings().dev_mode or not argv:
        return
    program = Path(argv[0])
    if (program.name == "rasa" and list(argv[1:3]) == ["run", "actions"]) or "rasa_sdk" in program.parts:
        raise UnsafeStart("refusing to start outside development mode: `rasa run actions` listens on every "
                          "interface without a token or body limit; start `python -m satark.action_server`.")


def main(argv: Sequence[str] | None = None) -> int:
    services = list(argv if argv is not None else sys.argv[1:]) or list(SERVICES)
    unknown = set(services) - set(SERVICES)
    if unknown:
        print(f"unknown service(s): {', '.join(sorted(unknown))}; known: {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    rasa_argv = ["--enable-api", "--auth-token", os.environ["RASA_API_TOKEN"]] if os.environ.get("RASA_API_TOKEN") \
        else []
    found = problems(services, argv=rasa_argv)
    for problem in found:
        print(f"preflight: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
