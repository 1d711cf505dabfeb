#!/usr/bin/env bash
# Chat with the bot in this terminal: starts the action server, then `rasa shell`.
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."
[ -f .env ] && { set -a; . ./.env; set +a; }
# A local start is development unless .env says otherwise (see .env.example).
export SATARK_DEV_MODE="${SATARK_DEV_MODE:-true}" PYTHONPATH="$PWD"
VAR="${SATARK_VAR_DIR:-$PWD/var}"
# Rasa expands every ${VAR} in credentials.yml even for the shell: use the sandbox's values.
[ -n "${WHATSAPP_ACCESS_TOKEN:-}" ] || eval "$(.venv/bin/python -m sandbox env)"
mkdir -p "$VAR/logs"
.venv/bin/python -m satark.action_server --port "${ACTIONS_PORT:-5055}" >"$VAR/logs/actions-shell.log" 2>&1 &
actions=$!
trap 'kill $actions 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:${ACTIONS_PORT:-5055}/health" >/dev/null 2>&1 && break; sleep 1; done
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:${ACTIONS_PORT:-5055}/webhook}"
.venv/bin/rasa shell --model models/satark.tar.gz --endpoints endpoints.yml
