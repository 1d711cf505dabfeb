"""The real system as subprocesses for end-to-end tests: action server, Rasa server, sandbox.

Each runs on a free loopback port with its own environment (database, runtime folder, WhatsApp
settings pointing at the sandbox), is waited for until healthy, and is stopped cleanly. Use one
`Stack` per test module: starting Rasa takes 20-40 s.

    stack = Stack(tmp_path, env={...})
    stack.prepare_database()
    stack.start_action_server()
    stack.start_sandbox()               # only for WhatsApp tests
    stack.start_rasa(credentials={...}, tracker_store={...}, debug=True)
    ...
    stack.stop()
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MODEL = Path(os.environ.get("SATARK_TEST_MODEL") or ROOT / "models" / "satark.tar.gz")  # trained by `make train`
RASA_START_TIMEOUT = 300.0  # generous: loading TensorFlow models on 2 busy cores
ACTION_START_TIMEOUT = 60.0
# One BLAS thread per server process, as scripts/run.sh and deploy/ set (bench/results/load.md).
SERVER_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    port: int
    output: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 40) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def children(pid: int) -> list[int]:
    """A process's descendants (e.g. Sanic's worker processes), from /proc."""
    try:
        found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return found + [grand for child in found for grand in children(child)]


@dataclass
class Stack:
    """Processes of one test module; `workdir` holds their configuration and output files."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    rasa_port: int = field(default_factory=free_port)  # known early: the sandbox posts to it
    api_token: str = field(default_factory=lambda: secrets.token_hex(24))  # Rasa's HTTP API needs one

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs = self.workdir / "logs"
        self.logs.mkdir(exist_ok=True)

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "SATARK_", "RASA_"))}
        return {**base, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_WARN_20": "0", "PYTHONUNBUFFERED": "1",
                "SANIC_KEEP_ALIVE_TIMEOUT": "75",  # longer than its clients' keep-alive (Makefile)
                **SERVER_THREADS,
                # endpoints.yml expands it; start_rasa writes its own endpoints with the real one
                "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
                **self.env}

    def _spawn(self, name: str, command: list[str], port: int, env: dict[str, str] | None = None) -> Service:
        output = self.logs / f"{name}.out"
        handle = output.open("wb")
        process = subprocess.Popen(command, cwd=ROOT, env={**self.environment(), **(env or {})}, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        service = Service(name, process, port, output)
        self.services[name] = service
        return service

    def _wait(self, service: Service, path: str, timeout: float, ready: Any = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited ({service.process.returncode}):\n{service.tail()}")
            try:
                response = requests.get(service.url + path, timeout=2)
                if response.status_code == 200 and (ready is None or ready(response)):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{service.name} not healthy after {timeout:.0f} s:\n{service.tail()}")

    def prepare_database(self) -> None:
        """Apply the migrations to the stack's DATABASE_URL."""
        subprocess.run([str(VENV_BIN / "python"), "-m", "satark.db.migrate"], cwd=ROOT,
                       env=self.environment(), check=True, capture_output=True)

    def start_action_server(self, debug: bool = False, port: int | None = None) -> Service:
        """`python -m satark.action_server` on loopback, as scripts/run.sh starts it."""
        port = port or free_port()
        command = [str(VENV_BIN / "python"), "-m", "satark.action_server", "--host", "127.0.0.1", "--port", str(port)]
        service = self._spawn("actions", command + (["--debug"] if debug else []), port)
        self._wait(service, "/health", ACTION_START_TIMEOUT)  # rasa-sdk answers {"status": "ok"}
        return service

    def start_sandbox(self, webhook_url: str | None = None) -> Service:
        """The Graph API stand-in; the webhook URL defaults to the Rasa server started later."""
        port = free_port()
        webhook = webhook_url or f"http://127.0.0.1:{self.rasa_port}/webhooks/whatsapp/webhook"
        service = self._spawn("sandbox", [str(VENV_BIN / "python"), "-m", "sandbox", "serve",
                                          "--port", str(port), "--webhook", webhook], port)
        self._wait(service, "/_sandbox/requests", 30)
        self.env.setdefault("WHATSAPP_API_URL", f"{service.url}/v22.0")
        return service

    def start_rasa(self, *, credentials: dict[str, Any] | None = None,
                   tracker_store: dict[str, Any] | None = None, debug: bool = False,
                   model: Path = MODEL, endpoints: dict[str, Any] | None = None,
                   name: str = "rasa", port: int | None = None) -> Service:
        """`rasa run` with the development REST channel (and any given channels), the API enabled
        with `api_token`, healthy once a model is loaded. `endpoints` replaces the generated
        endpoints file (its action server URL still points at this stack's); `name`/`port` start
        further servers."""
        if "actions" not in self.services:
            raise RuntimeError("start the action server first")
        action_endpoint = {"action_endpoint": {"url": f"{self.services['actions'].url}/webhook"}}
        endpoints = {**(endpoints or {}), **action_endpoint}
        if tracker_store:
            endpoints["tracker_store"] = tracker_store
        (self.workdir / f"{name}-endpoints.yml").write_text(yaml.safe_dump(endpoints))
        (self.workdir / "credentials.yml").write_text(yaml.safe_dump(
            {"channels.dev_rest.DevRestInput": None, **(credentials or {})}))
        port = port or self.rasa_port
        # `rasa run` as scripts/run.sh starts it: the API token from RASA_API_TOKEN, not the command line.
        command = [str(VENV_BIN / "python"), "-m", "satark.rasa_server", "--model", str(model), "--port", str(port),
                   "-i", "127.0.0.1", "--credentials", str(self.workdir / "credentials.yml"),
                   "--endpoints", str(self.workdir / f"{name}-endpoints.yml")]
        if debug:
            command += ["--debug", "--log-file", str(self.logs / f"{name}.log")]
        service = self._spawn(name, command, port, env={"RASA_API_TOKEN": self.api_token})
        self._wait(service, f"/status?token={self.api_token}", RASA_START_TIMEOUT,
                   ready=lambda r: bool(r.json().get("model_file")))
        return service

    def stop(self) -> None:
        """SIGTERM every process group (Rasa and Sanic shut down gracefully), SIGKILL laggards."""
        for service in reversed(list(self.services.values())):
            if service.process.poll() is None:
                os.killpg(service.process.pid, signal.SIGTERM)
        for service in self.services.values():
            try:
                service.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait(5)
        self.services.clear()
