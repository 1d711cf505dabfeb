"""The action server, started as `python -m satark.action_server` instead of `rasa run actions`.

rasa-sdk's own runner listens on every interface, accepts any caller and inflates deflate bodies
without a limit. This one binds to `ACTIONS_HOST` (127.0.0.1 unless configured), answers only
callers that present `ACTION_SERVER_TOKEN` when one is set (Rasa sends it as the `token` query
parameter: `token: ${ACTION_SERVER_TOKEN}` in endpoints.yml), refuses bodies above
`ACTION_SERVER_MAX_BODY_BYTES` before and after decompression, and refuses any other encoding.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import zlib

from rasa_sdk.endpoint import create_app as create_sdk_app
from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request

from satark import preflight, spool
from satark.logs import configure_logging
from satark.reports import replay_spool

log = logging.getLogger(__name__)

DEFAULT_PORT = 5055
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a long conversation's tracker is well below this
OPEN_PATHS = ("/health",)
SPOOL_REPLAY_SECONDS = 30


async def _replay_spool_periodically() -> None:
    """Store reports spooled during a database outage even when no new report comes in."""
    while True:
        await asyncio.sleep(SPOOL_REPLAY_SECONDS)
        try:
            if spool.pending():
                await asyncio.to_thread(replay_spool)
        except Exception as error:  # the next round tries again
            log.error("spool replay failed (%s)", type(error).__name__)


def _inflate(body: bytes, limit: int) -> bytes | None:
    """The deflated body, or None when it would grow beyond `limit` (a compression bomb)."""
    inflater = zlib.decompressobj()
    data = inflater.decompress(body, limit + 1)
    return None if len(data) > limit or inflater.unconsumed_tail else data


def create_app(token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               actions_package: str = "actions") -> Sanic:
    app = create_sdk_app(actions_package, cors_origins=None, auto_reload=False)
    app.config.REQUEST_MAX_SIZE = max_body_bytes

    @app.after_server_start
    async def start_spool_replay(server: Sanic, _loop) -> None:
        server.add_task(_replay_spool_periodically())

    @app.exception(PayloadTooLarge)
    async def too_large(_request: Request, _error: Exception):
        return response.json({"error": "payload too large"}, status=413)

    @app.on_request
    async def guard(request: Request):
        if request.path in OPEN_PATHS:
            return None
        if token and not hmac.compare_digest((request.args.get("token") or "").encode(), token.encode()):
            log.warning("action server call without the right token refused")
            return response.json({"error": "unauthorised"}, status=401)
        if len(request.body or b"") > max_body_bytes:
            return response.json({"error": "payload too large"}, status=413)
        encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
        if encoding == "deflate":
            inflated = _inflate(request.body or b"", max_body_bytes)
            if inflated is None:
                return response.json({"error": "payload too large"}, status=413)
            request.body = inflated
            del request.headers["content-encoding"]
        elif encoding != "identity":
            return response.json({"error": f"unsupported content encoding {encoding}"}, status=415)
        return None

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST") or preflight.DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT") or DEFAULT_PORT))
    parser.add_argument("--actions", default="actions")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    preflight.harden_process()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_logging()
    preflight.enforce(["actions"], environ={**os.environ, "ACTIONS_HOST": args.host})
    token = os.environ.get("ACTION_SERVER_TOKEN") or None
    max_body = int(os.environ.get("ACTION_SERVER_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
    app = create_app(token, max_body, args.actions)
    log.info("action server on http://%s:%d (token %s)", args.host, args.port, "required" if token else "off")
    app.run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
