"""The WhatsApp Cloud (Graph) API over aiohttp: sending messages and fetching media.

Rate limits (429), server errors (5xx) and failed connections are retried with exponential
backoff; other 4xx are logged with Meta's error code and not retried. A message send that timed
out or lost its connection after the request went out is not retried: Meta may have delivered
it, and a citizen must never get the same message twice. Nothing logged here names the recipient.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from pathlib import Path

import aiohttp

from satark.media import MediaError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://graph.facebook.com/v22.0"
MAX_RETRY_AFTER_SECONDS = 30.0
_LONG_NUMBER = re.compile(r"\+?\d[\d\s-]{5,}\d")


def redact(text: str) -> str:
    """Meta's error texts can quote a recipient's number: long digit runs are hidden in logs."""
    return _LONG_NUMBER.sub("[number]", text)


class GraphError(Exception):
    """The Graph API refused a request (after retries, where retrying made sense)."""

    def __init__(self, status: int, code: object = None, message: str = "") -> None:
        super().__init__(f"HTTP {status}, code {code}: {redact(message)}")
        self.status = status
        self.code = code


class GraphClient:
    """One aiohttp session per connector, opened on first use inside the server's event loop."""

    def __init__(self, api_url: str, access_token: str, phone_number_id: str, *,
                 attempts: int = 5, backoff_seconds: float = 0.5, timeout_seconds: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = access_token
        self.phone_number_id = phone_number_id
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"Authorization": f"Bearer {self._token}"})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
            except ValueError:
                pass
        return self.backoff_seconds * 2 ** (attempt - 1) * (1 + random.random() / 2)  # noqa: S311 (jitter)

    async def _request(self, what: str, method: str, url: str, *, payload: dict | None = None,
                       max_bytes: int | None = None, destination: Path | None = None) -> bytes:
        """The response body of a successful request (written to `destination` when given, then b""),
        retrying what is worth retrying."""
        idempotent = method == "GET"
        for attempt in range(1, self.attempts + 1):
            retry_after = None
            try:
                async with self._client().request(method, url, json=payload) as response:
                    if response.status < 400:
                        if destination is not None:
                            await _save_limited(response, max_bytes, destination)
                            return b""
                        return await response.read()
                    body = await response.read()
                    if response.status != 429 and response.status < 500:
                        error = _graph_error(response.status, body)
                        log.error("WhatsApp API refused %s: %s", what, error)
                        raise error
                    retry_after = response.headers.get("Retry-After")
                    problem = f"HTTP {response.status}"
            except aiohttp.ClientConnectorError as error:  # nothing reached Meta: safe to repeat
                problem = type(error).__name__
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                problem = type(error).__name__
                if not idempotent:
                    log.error("WhatsApp API: %s got no answer (%s); not repeated, it may have arrived",
                              what, problem)
                    raise GraphError(504, None, problem) from None
            if attempt == self.attempts:
                log.error("WhatsApp API: %s failed after %d attempts (%s)", what, attempt, problem)
                raise GraphError(503, None, problem)
            delay = self._delay(attempt, retry_after)
            log.warning("WhatsApp API: %s got %s; retry %d/%d in %.1f s",
                        what, problem, attempt, self.attempts - 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def send(self, message: dict) -> str | None:
        """POST one message object (recipient and type already filled in); the message id Meta gave."""
        body = await self._request(f"sending a {message.get('type', 'message')} message", "POST",
                                   f"{self.api_url}/{self.phone_number_id}/messages", payload=message)
        try:
            return str(json.loads(body)["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    async def media_info(self, media_id: str) -> dict:
        """The media's short-lived download URL, mime type, sha256 and size."""
        try:
            body = await self._request("resolving media", "GET", f"{self.api_url}/{media_id}")
        except GraphError as error:
            raise MediaError("not_found" if error.status in (400, 404) else "download",
                             f"HTTP {error.status}") from None
        try:
            info = json.loads(body)
        except ValueError:
            raise MediaError("download", "unreadable media info") from None
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            raise MediaError("download", "media info without url")
        return info

    async def download(self, url: str, max_bytes: int, destination: Path) -> None:
        """Stream the file behind a media URL (which needs the bearer token too) into `destination`,
        at most `max_bytes`: a 16 MB video never sits whole in the server's memory."""
        try:
            await self._request("downloading media", "GET", url, max_bytes=max_bytes, destination=destination)
        except GraphError as error:
            reason = "not_found" if error.status in (401, 403, 404, 410) else "download"
            raise MediaError(reason, f"HTTP {error.status}") from None


async def _save_limited(response: aiohttp.ClientResponse, max_bytes: int | None, destination: Path) -> None:
    if max_bytes is not None and response.content_length is not None and response.content_length > max_bytes:
        raise MediaError("too_large", f"{response.content_length} bytes")
    size = 0
    with destination.open("wb") as handle:  # the caller created it owner-only
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise MediaError("too_large", f"more than {max_bytes} bytes")
            handle.write(chunk)


def _graph_error(status: int, body: bytes) -> GraphError:
    try:
        error = json.loads(body).get("error", {})
        return GraphError(status, error.get("code"), str(error.get("message", "")))
    except (ValueError, AttributeError):
        return GraphError(status, None, body[:200].decode("utf-8", "replace"))
