"""`python -m sandbox serve` runs the Graph API stand-in and chat page; `python -m sandbox env`
prints the WHATSAPP_* settings that point the connector at it (for `make run` without credentials).
"""

from __future__ import annotations

import argparse
import logging
import shlex

from aiohttp import web

from sandbox.server import API_VERSION, DEFAULTS, Sandbox, SandboxConfig
from satark.settings import get_settings


def env_lines(host: str, port: int) -> list[str]:
    values = {**DEFAULTS, "WHATSAPP_API_URL": f"http://{host}:{port}/{API_VERSION}"}
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the stand-in and the chat page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=get_settings().sandbox_port)
    serve.add_argument("--webhook", help="the connector's webhook URL (default: SANDBOX_WEBHOOK_URL or Rasa's)")
    env = commands.add_parser("env", help="print shell exports that point the connector at the sandbox")
    env.add_argument("--host", default="127.0.0.1")
    env.add_argument("--port", type=int, default=get_settings().sandbox_port)
    args = parser.parse_args(argv)
    if args.command == "env":
        print("\n".join(env_lines(args.host, args.port)))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s sandbox: %(message)s")
    sandbox = Sandbox(SandboxConfig.from_env(args.webhook))
    print(f"WhatsApp sandbox: chat page http://{args.host}:{args.port}/ → {sandbox.config.webhook_url}",
          flush=True)
    web.run_app(sandbox.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
