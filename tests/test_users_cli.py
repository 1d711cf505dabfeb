"""`python -m satark.users` as an administrator runs it: password on standard input, never argv."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from satark import auth
from tests.support.servers import ROOT


def cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satark.users", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=120)


def test_add_list_disable_and_reset_password(runtime):
    added = cli("add", "SP-Gzp", "--office", "sp-gzp", "--role", "sp", stdin="a long secret phrase\n")
    assert added.returncode == 0, added.stderr
    assert auth.sign_in("sp-gzp", "a long secret phrase").outcome == "ok"
    assert cli("add", "sp-gzp", "--office", "SP-GZP", "--role", "sp", stdin="another long one\n").returncode == 2
    refused = cli("add", "dig-x", "--office", "SP-JNP", "--role", "dig", stdin="a long secret phrase\n")
    assert refused.returncode == 2 and "does not fit" in refused.stderr
    weak = cli("add", "sp-jnp", "--office", "SP-JNP", "--role", "sp", stdin="short\n")
    assert weak.returncode == 2 and "at least 10" in weak.stderr
    assert re.search(r"sp-gzp\s+sp\s+SP-GZP\s+active", cli("list").stdout)
    assert cli("reset-password", "sp-gzp", stdin="a brand new phrase\n").returncode == 0
    assert auth.sign_in("sp-gzp", "a brand new phrase").outcome == "ok"
    assert cli("disable", "sp-gzp").returncode == 0
    assert auth.sign_in("sp-gzp", "a brand new phrase").outcome == "disabled"
    assert "disabled" in cli("list").stdout
    assert cli("disable", "nobody").returncode == 2


def test_demo_users_only_in_development_mode_and_only_once(runtime):
    first = cli("demo")
    assert first.returncode == 0, first.stderr
    passwords = dict(re.findall(r"demo user (\S+) .*: password (\S+)", first.stdout))
    assert set(passwords) == {"sp-gzp", "sp-jnp", "dig-vns", "admin"}
    assert auth.sign_in("dig-vns", passwords["dig-vns"]).user.role == "dig"
    assert cli("demo").stdout == ""  # existing users keep their passwords, which are never shown again
    production = cli("demo", SATARK_DEV_MODE="false")
    assert production.returncode == 2 and "development mode" in production.stderr
