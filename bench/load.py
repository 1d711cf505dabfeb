"""Capacity: scripted citizens through the real WhatsApp connector and the REST channel.

`python -m bench.load` (part of `make bench`) starts the system as `make run` does (SQLite, the
database inbound queue), with the Graph API stand-in running inside this process so every reply
is timed when it arrives. Each citizen types a whole report (10 turns, English) and pauses
`--pause` seconds after each answer. Phases, all against the same model:

1. `--citizens` concurrent citizens on the REST channel, then on WhatsApp (signed webhooks), with
   `--workers` Rasa worker processes as `make run` starts them:
   p50/p95/p99 from sending to the turn's last reply, errors, messages per second.
2. Saturation: `--saturation-citizens` citizens without pauses for `--saturation-seconds`, on
   REST and on WhatsApp (the same number), `--saturation-rounds` rounds; the ratio of their
   throughputs is the median of the rounds' ratios (and, pooled, of all their turns). The speed
   of these 2 cores drifts by up to 15 % from minute to minute, so one long phase per channel
   could compare two different machines; and the channels take turns going first (REST first in
   odd rounds, WhatsApp in even ones), so a machine that slows down or speeds up during the run
   favours neither channel. (With REST always first, WhatsApp always ran on the later, and on a
   slowing machine the slower, minute.) A saturation phase's throughput counts the turns
   completed while all its citizens were at it: from `RAMP_SECONDS` after the start to the end of
   `--saturation-seconds`. After that the citizens finish the report in hand, fewer and fewer of
   them, for up to one conversation's length (7-8 s, longer on the slower channel): that tail is
   not saturation, and counting it made the ratio depend on how long the last reports took.
3. Sustained WhatsApp load for `--sustain-seconds` (300 for the 5-minute run), sampling the
   resident memory of the Rasa and action server processes.
4. With `--scale-out`: the production profile (PostgreSQL, Redis) behind nginx, one Rasa server
   and then two, at saturation.

Results go to bench/results/load.json and load.md. Replies on WhatsApp come asynchronously, one
message each: one citizen first goes through the script alone to count the messages each turn
gets (waiting 1 s for stragglers); under load a turn ends when that many replies arrived, and its
latency is measured to its last reply. So a WhatsApp citizen waits exactly as long as a REST one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from aiohttp import web

from sandbox import payloads
from sandbox.server import API_VERSION, Sandbox, SandboxConfig
from tests.support.servers import ROOT, Stack, children, free_port

RESULTS = ROOT / "bench" / "results"
SCRIPT = [
    "Hi", "English",
    "A truck full of cows is taken from our village towards the Bihar border",
    "yes", "gazipur", "Near the Zamania railway crossing", "every night around 2 am",
    "A white truck without a number plate, three men", "skip", "yes",
]
DONE_MARKER = "Report number"
FREE_TEXT_TURNS = (2, 5, 7)  # answers that get a citizen's own number, so no two texts are alike


def script_for(citizen: int) -> list[str]:
    """The script with the free-text answers made unique (NLU caches repeated texts)."""
    return [f"{text}, {citizen} times" if index in FREE_TEXT_TURNS else text
            for index, text in enumerate(SCRIPT)]
TURN_TIMEOUT = 60.0
RAMP_SECONDS = 2.0  # a timed phase's first turns, while the servers' queues fill, are not counted
CALIBRATION_QUIET = 1.0  # seconds without a further reply that end a turn while counting replies
CREDENTIALS = {"verify_token": "bench-verify-token", "app_secret": "bench-app-secret",
               "access_token": "bench-access-token", "phone_number_id": "100000000000077"}


class TimingSandbox(Sandbox):
    """The Graph API stand-in, noting when each reply to each number arrives."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.replies: dict[str, list[tuple[float, str]]] = {}
        self.arrived: dict[str, asyncio.Event] = {}

    async def send_message(self, request: web.Request) -> web.Response:
        response = await super().send_message(request)
        if response.status == 200:
            message = self.state.requests[-1]["json"]
            self.state.requests.clear()  # the bench keeps its own timings; memory stays flat
            to = str(message.get("to"))
            body = json.dumps(message, ensure_ascii=False)
            self.replies.setdefault(to, []).append((time.monotonic(), body))
            self.arrived.setdefault(to, asyncio.Event()).set()
        return response


@dataclass
class Phase:
    name: str
    channel: str
    citizens: int
    pause: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reports: int = 0
    seconds: float = 0.0
    finished_at: list[float] = field(default_factory=list)  # time.monotonic() of each completed turn
    window: tuple[float, float] | None = None  # a timed phase: when all its citizens were at it
    cpu_seconds: float = 0.0  # Rasa server(s) and action server, user + system
    generator_cpu_seconds: float = 0.0  # this process: the citizens and the Graph API stand-in
    memory: list[dict[str, float]] = field(default_factory=list)

    @property
    def turns(self) -> int:
        return len(self.finished_at)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000) if ordered else None
        if self.window:
            start, end = self.window
            counted = sum(start <= moment <= end for moment in self.finished_at)
            throughput = {"window_turns": counted, "window_s": round(end - start, 1),
                          "throughput_msg_s": round(counted / (end - start), 2)}
        else:
            throughput = {"throughput_msg_s": round(self.turns / self.seconds, 2) if self.seconds else 0}
        return {"name": self.name, "channel": self.channel, "citizens": self.citizens, "pause_s": self.pause,
                "turns": self.turns, "reports": self.reports, "errors": len(self.errors),
                "error_examples": self.errors[:3], "seconds": round(self.seconds, 1), **throughput,
                "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "mean_ms": round(statistics.mean(ordered) * 1000) if ordered else None,
                "server_cpu_ms_per_turn": round(self.cpu_seconds / self.turns * 1000, 1) if self.turns else None,
                "generator_cpu_ms_per_turn":
                    round(self.generator_cpu_seconds / self.turns * 1000, 1) if self.turns else None,
                **({"memory": self.memory} if self.memory else {})}


class Citizens:
    """Drives citizens against one Rasa URL (directly or through the reverse proxy)."""

    def __init__(self, base_url: str, sandbox: TimingSandbox, server_pids: list[int]) -> None:
        self.base_url = base_url
        self.server_pids = server_pids
        self.sandbox = sandbox
        self.session: aiohttp.ClientSession | None = None
        self.numbers = itertools.count(int(time.time()) % 1_000_000 * 100)
        self.replies_per_turn: list[int] = []  # WhatsApp messages answering each turn (count_replies)

    async def __aenter__(self) -> Citizens:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT),
                                             connector=aiohttp.TCPConnector(limit=0))
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.session.close()

    async def rest_turn(self, sender: str, text: str) -> tuple[float, str]:
        started = time.monotonic()
        async with self.session.post(f"{self.base_url}/webhooks/rest/webhook",
                                     json={"sender": sender, "message": text}) as response:
            body = await response.text()
            if response.status != 200:
                raise RuntimeError(f"REST HTTP {response.status}")
        return time.monotonic() - started, body

    async def whatsapp_turn(self, phone: str, text: str, expected: int | None) -> tuple[float, str]:
        """Post the message; the turn is over once `expected` replies came (when counting them:
        once replies came and then none for CALIBRATION_QUIET seconds). The latency is to the last reply."""
        replies = self.sandbox.replies.setdefault(phone, [])
        event = self.sandbox.arrived.setdefault(phone, asyncio.Event())
        before = len(replies)
        event.clear()
        body = payloads.encode(payloads.user_messages(CREDENTIALS["phone_number_id"], phone, "Bench Citizen",
                                                      [payloads.text(text)]))
        started = time.monotonic()
        async with self.session.post(f"{self.base_url}/webhooks/whatsapp/webhook", data=body, headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": payloads.sign(body, CREDENTIALS["app_secret"])}) as response:
            if response.status != 200:
                raise RuntimeError(f"webhook HTTP {response.status}")
        while len(replies) < before + (expected or 1):
            await asyncio.wait_for(event.wait(), TURN_TIMEOUT)
            event.clear()
        while expected is None:
            try:
                await asyncio.wait_for(event.wait(), CALIBRATION_QUIET)
                event.clear()
            except asyncio.TimeoutError:
                break
        return replies[-1][0] - started, "\n".join(body for _, body in replies[before:])

    async def count_replies(self) -> None:
        """One citizen alone: how many WhatsApp messages answer each turn of the script."""
        phone = f"91{6_000_000_000 + next(self.numbers) % 1_000_000_000:010d}"
        self.replies_per_turn = []
        for text in script_for(0):
            before = len(self.sandbox.replies.get(phone, []))
            await self.whatsapp_turn(phone, text, None)
            self.replies_per_turn.append(len(self.sandbox.replies[phone]) - before)
        self.sandbox.replies.pop(phone, None)
        self.sandbox.arrived.pop(phone, None)

    async def citizen(self, phase: Phase, until: float | None) -> None:
        while True:
            number = next(self.numbers)
            sender = f"bench-{number}-{uuid.uuid4().hex[:8]}"
            phone = f"91{7_000_000_000 + number:010d}"
            for turn, text in enumerate(script_for(number)):
                try:
                    if phase.channel == "rest":
                        latency, body = await self.rest_turn(sender, text)
                    else:
                        latency, body = await self.whatsapp_turn(phone, text, self.replies_per_turn[turn])
                    phase.latencies.append(latency)
                    phase.finished_at.append(time.monotonic())
                    phase.reports += DONE_MARKER in body
                except (RuntimeError, aiohttp.ClientError, asyncio.TimeoutError) as error:
                    phase.errors.append(f"{type(error).__name__}: {error}")
                    break
                await asyncio.sleep(phase.pause)
            self.sandbox.replies.pop(phone, None)
            self.sandbox.arrived.pop(phone, None)
            if until is None or time.monotonic() > until:
                return

    async def run(self, phase: Phase, duration: float | None = None,
                  sample: Any = None) -> Phase:
        cpu_before = sum(cpu_seconds(pid) for pid in self.server_pids)
        generator_before = own_cpu_seconds()
        started = time.monotonic()
        until = started + duration if duration else None
        if until is not None:
            phase.window = (started + RAMP_SECONDS, until)
        tasks = []
        for _ in range(phase.citizens):
            tasks.append(asyncio.create_task(self.citizen(phase, until)))
            await asyncio.sleep(min(phase.pause, 2.0) / phase.citizens)  # arrivals spread over one pause
        sampler = asyncio.create_task(sample(phase, started)) if sample else None
        await asyncio.gather(*tasks)
        phase.seconds = time.monotonic() - started
        phase.cpu_seconds = sum(cpu_seconds(pid) for pid in self.server_pids) - cpu_before
        phase.generator_cpu_seconds = own_cpu_seconds() - generator_before
        if sampler:
            sampler.cancel()
        return phase


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children, in seconds: what
    a turn costs does not depend on how busy the machine is with other work."""
    total = 0.0
    for candidate in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def own_cpu_seconds() -> float:
    """CPU time of this process: the load generator shares the 2 cores with the servers."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Rasa runs its server in a child)."""
    total = 0.0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return round(total, 1)


class System:
    """Action server and Rasa server(s) as `make run` starts them, plus the in-process sandbox."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.stack = Stack(workdir, env=env)
        self.sandbox_port = free_port()
        self.sandbox = TimingSandbox(SandboxConfig(**CREDENTIALS, webhook_url="unused"))
        self.runner: web.AppRunner | None = None

    async def start_sandbox(self) -> None:
        self.runner = web.AppRunner(self.sandbox.app(), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.sandbox_port).start()

    def credentials(self) -> dict[str, Any]:
        return {"channels.whatsapp.WhatsAppInput": {
            **CREDENTIALS, "api_url": f"http://127.0.0.1:{self.sandbox_port}/{API_VERSION}"}}

    def start(self, servers: int = 1) -> list[str]:
        self.stack.prepare_database()
        self.stack.start_action_server()
        endpoints = {"tracker_store": {"type": "satark.rasa_stores.EnvironmentTrackerStore"},
                     "lock_store": {"type": "satark.rasa_stores.EnvironmentLockStore"}}
        urls = []
        for number in range(servers):
            service = self.stack.start_rasa(credentials=self.credentials(), endpoints=endpoints,
                                            name=f"rasa{number or ''}", port=None if number == 0 else free_port())
            urls.append(service.url)
        return urls

    def server_pids(self) -> list[int]:
        return [s.process.pid for name, s in self.stack.services.items() if name.startswith(("rasa", "actions"))]

    async def stop(self) -> None:
        self.stack.stop()
        if self.runner:
            await self.runner.cleanup()


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream rasa {{ least_conn; {servers} keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def start_nginx(workdir: Path, urls: list[str]) -> tuple[subprocess.Popen, str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf_dir = workdir / "nginx"
    conf_dir.mkdir(exist_ok=True)
    servers = " ".join(f"server {url.removeprefix('http://')};" for url in urls)
    (conf_dir / "nginx.conf").write_text(NGINX_CONF.format(dir=conf_dir, servers=servers, port=port))
    process = subprocess.Popen([nginx, "-c", str(conf_dir / "nginx.conf"), "-p", str(conf_dir),
                                "-g", "daemon off;"], stderr=subprocess.PIPE)
    time.sleep(0.5)
    if process.poll() is not None:
        raise RuntimeError(process.stderr.read().decode())
    return process, f"http://127.0.0.1:{port}"


def postgres_database(name: str) -> str:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def drop_postgres_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def base_env(workdir: Path) -> dict[str, str]:
    return {"SATARK_VAR_DIR": str(workdir / "var"), "DATABASE_URL": f"sqlite:///{workdir / 'var' / 'satark.db'}",
            "SATARK_DEV_MODE": "true", "SENDER_RATE_LIMIT_PER_MINUTE": "1000"}


async def default_profile(args: argparse.Namespace, results: dict[str, Any]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="satark-load-"))
    system = System(workdir, {**base_env(workdir), "SANIC_WORKERS": str(args.workers)})
    results["default_profile_workers"] = args.workers
    results["saturation_rounds"] = args.saturation_rounds
    await system.start_sandbox()
    try:
        [url] = await asyncio.get_running_loop().run_in_executor(None, system.start)
        rasa_pid = system.stack.services["rasa"].process.pid
        actions_pid = system.stack.services["actions"].process.pid
        async with Citizens(url, system.sandbox, system.server_pids()) as citizens:
            await citizens.run(Phase("warm-up", "rest", 2, 0.1))
            await citizens.count_replies()
            for channel in ("rest", "whatsapp"):
                phase = await citizens.run(Phase(f"{args.citizens} citizens", channel, args.citizens, args.pause))
                results["phases"].append(phase.summary())
                print(json.dumps(phase.summary()), flush=True)
            for number in range(1, args.saturation_rounds + 1):
                for channel in ("rest", "whatsapp") if number % 2 else ("whatsapp", "rest"):
                    phase = await citizens.run(Phase(f"saturation {number}", channel, args.saturation_citizens, 0.0),
                                               duration=args.saturation_seconds)
                    results["phases"].append(phase.summary())
                    print(json.dumps(phase.summary()), flush=True)

            async def sample(phase: Phase, started: float) -> None:
                while True:
                    phase.memory.append({"t": round(time.monotonic() - started), "rasa_mb": rss_mb(rasa_pid),
                                         "actions_mb": rss_mb(actions_pid)})
                    await asyncio.sleep(10)
            if args.sustain_seconds:
                phase = await citizens.run(Phase("sustained", "whatsapp", args.citizens, args.pause),
                                           duration=args.sustain_seconds, sample=sample)
                phase.memory.append({"t": round(phase.seconds), "rasa_mb": rss_mb(rasa_pid),
                                     "actions_mb": rss_mb(actions_pid)})
                results["phases"].append(phase.summary())
                print(json.dumps(phase.summary()), flush=True)
    finally:
        await system.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def scale_out(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Production profile behind nginx: one Rasa server, then two, at saturation (WhatsApp and REST)."""
    for servers in (1, 2):
        workdir = Path(tempfile.mkdtemp(prefix="satark-scale-"))
        database = f"satark_bench_{uuid.uuid4().hex[:8]}"
        url = postgres_database(database)
        env = {**base_env(workdir), "DATABASE_URL": url, "TRACKER_STORE_URL": url,
               "REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_KEY_PREFIX": f"bench{uuid.uuid4().hex[:6]}"}
        system = System(workdir, env)
        await system.start_sandbox()
        nginx = None
        try:
            urls = await asyncio.get_running_loop().run_in_executor(None, system.start, servers)
            nginx, proxy = start_nginx(workdir, urls)
            async with Citizens(proxy, system.sandbox, system.server_pids()) as citizens:
                await citizens.run(Phase("warm-up", "rest", 2, 0.1))
                await citizens.count_replies()
                for channel in ("rest", "whatsapp"):
                    phase = await citizens.run(
                        Phase(f"{servers} server(s) behind nginx, saturation", channel,
                              args.saturation_citizens, 0.0), duration=args.saturation_seconds)
                    results["phases"].append({**phase.summary(), "servers": servers, "profile": "postgres+redis"})
                    print(json.dumps(results["phases"][-1]), flush=True)
        finally:
            if nginx:
                nginx.terminate()
                nginx.wait(10)
            await system.stop()
            drop_postgres_database(database)
            shutil.rmtree(workdir, ignore_errors=True)


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    def find(name: str, channel: str, servers: int | None = None) -> dict[str, Any] | None:
        return next((p for p in results["phases"] if p["name"].startswith(name) and p["channel"] == channel
                     and p.get("servers") == servers), None)
    out: dict[str, Any] = {}
    rounds = [(find(f"saturation {number}", "rest"), find(f"saturation {number}", "whatsapp"))
              for number in range(1, results.get("saturation_rounds", 0) + 1)]
    rounds = [(rest, whatsapp) for rest, whatsapp in rounds if rest and whatsapp and rest["throughput_msg_s"]]
    if rounds:
        each = [whatsapp["throughput_msg_s"] / rest["throughput_msg_s"] for rest, whatsapp in rounds]
        out["whatsapp_vs_rest_throughput"] = round(statistics.median(each), 3)
        out["whatsapp_vs_rest_throughput_each_round"] = [round(ratio, 3) for ratio in each]

        def pooled(phases: list[dict[str, Any]]) -> float:
            return sum(p["window_turns"] for p in phases) / sum(p["window_s"] for p in phases)
        out["whatsapp_vs_rest_throughput_pooled"] = round(
            pooled([whatsapp for _, whatsapp in rounds]) / pooled([rest for rest, _ in rounds]), 3)
    for channel in ("rest", "whatsapp"):
        one, two = find("1 server", channel, 1), find("2 server", channel, 2)
        if one and two and one["throughput_msg_s"]:
            out[f"two_vs_one_server_{channel}"] = round(two["throughput_msg_s"] / one["throughput_msg_s"], 3)
    return out


def write_markdown(results: dict[str, Any], path: Path) -> None:
    lines = ["# Load benchmark (`python -m bench.load`)", "",
             f"Run {results['date']} on {results['machine']}; command: `{results['command']}`. Load average "
             f"(1/5/15 min) at start {results['load_average_at_start']}, at end {results['load_average_at_end']}: "
             "the machine was shared with other work, so these are lower bounds of what 2 idle cores do.", "",
             "Citizens type a 10-turn report (English) and pause between answers; WhatsApp goes through "
             "signed webhooks and the real connector, replies are timed where the Graph API stand-in "
             "receives them (to the turn's last reply). REST is timed per HTTP request. The first phases run "
             "the development profile as `make run` does: one Rasa server with "
             f"{results.get('default_profile_workers')} worker processes, SQLite, the inbound queue in SQLite. "
             "The nginx phases run the production profile (PostgreSQL, Redis), one worker per server. "
             "Memory is the Rasa server with its workers. The msg/s of a timed phase (saturation, sustained, "
             f"nginx) counts the turns completed from {RAMP_SECONDS:g} s after its start to the end of its "
             "duration, while all its citizens were at it; turns, reports and latencies count the whole "
             "phase, including the reports finished after it.", "",
             "| phase | channel | servers | citizens | pause | turns | reports | errors | msg/s | p50 ms | p95 ms "
             "| p99 ms | server CPU ms/turn | load generator CPU ms/turn |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in results["phases"]:
        lines.append(f"| {p['name']} | {p['channel']} | {p.get('servers', 1)} | {p['citizens']} | {p['pause_s']} s "
                     f"| {p['turns']} | {p['reports']} | {p['errors']} | {p['throughput_msg_s']} | {p['p50_ms']} "
                     f"| {p['p95_ms']} | {p['p99_ms']} | {p['server_cpu_ms_per_turn']} "
                     f"| {p.get('generator_cpu_ms_per_turn')} |")
    lines += ["", "Ratios: " + ", ".join(f"{k} = {v}" for k, v in results["ratios"].items()), ""]
    for p in results["phases"]:
        if p.get("memory"):
            first, last = p["memory"][0], p["memory"][-1]
            lines.append(f"Memory during `{p['name']}` ({p['seconds']} s): Rasa {first['rasa_mb']} → "
                         f"{last['rasa_mb']} MB, action server {first['actions_mb']} → {last['actions_mb']} MB "
                         f"(samples every 10 s in load.json).")
    path.write_text("\n".join(lines) + "\n")


def load_average() -> tuple[float, ...]:
    """The 1/5/15-minute load averages to two decimals (more digits say nothing)."""
    return tuple(round(value, 2) for value in os.getloadavg())


async def main(args: argparse.Namespace) -> None:
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": f"{os.cpu_count()} cores, {platform.platform()}",
                               "load_average_at_start": load_average(),
                               "command": "python -m bench.load " + " ".join(args.argv), "phases": []}
    if not args.skip_default:
        await default_profile(args, results)
    if args.scale_out:
        await scale_out(args, results)
    results["ratios"] = ratios(results)
    results["load_average_at_end"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    write_markdown(results, args.out / "load.md")
    print(json.dumps(results["ratios"]))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--citizens", type=int, default=50)
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--saturation-citizens", type=int, default=40)
    parser.add_argument("--saturation-seconds", type=float, default=20.0)
    parser.add_argument("--saturation-rounds", type=int, default=6,
                        help="REST and WhatsApp saturation phases alternate this often; the ratio is the median")
    parser.add_argument("--sustain-seconds", type=float, default=90.0,
                        help="sustained WhatsApp load with memory sampling (300 = the 5-minute run; 0 = skip)")
    parser.add_argument("--scale-out", action="store_true", help="also: 1 vs 2 Rasa servers behind nginx")
    parser.add_argument("--skip-default", action="store_true", help="only the scale-out phases")
    parser.add_argument("--workers", type=int, default=2,
                        help="Rasa worker processes in the default profile (scripts/run.sh starts 2)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else __import__("sys").argv[1:]
    return args


if __name__ == "__main__":
    uvloop.install()  # the load generator takes less of the cores it shares with the servers
    asyncio.run(main(parse()))
