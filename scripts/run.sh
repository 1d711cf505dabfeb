#!/usr/bin/env bash
# Start the whole system on this machine: action server, Rasa server, the WhatsApp sandbox
# (when no real WhatsApp credentials are configured), the dashboard and the daily retention pass.
# Ctrl-C stops everything. Every service listens on 127.0.0.1 unless RASA_HOST, ACTIONS_HOST or
# DASHBOARD_HOST say otherwise; outside development mode `satark.preflight` refuses unsafe settings.
set -euo pipefail
umask 077  # everything the services write (databases, evidence, logs) is owner-only
cd "$(dirname "$0")/.."
[ -f .env ] && { set -a; . ./.env; set +a; }
# A local start is development unless .env says otherwise (see .env.example).
export SATARK_DEV_MODE="${SATARK_DEV_MODE:-true}" PYTHONPATH="$PWD"
BIN=.venv/bin
VAR="${SATARK_VAR_DIR:-$PWD/var}"
mkdir -p -m 700 "$VAR" "$VAR/logs"
chmod 700 "$VAR" "$VAR/logs"
RASA_PORT="${RASA_PORT:-5005}" ACTIONS_PORT="${ACTIONS_PORT:-5055}" DASHBOARD_PORT="${DASHBOARD_PORT:-8501}"
SANDBOX_PORT="${SANDBOX_PORT:-8010}"
export RASA_HOST="${RASA_HOST:-127.0.0.1}" ACTIONS_HOST="${ACTIONS_HOST:-127.0.0.1}"
DASHBOARD_HOST="${DASHBOARD_HOST:-127.0.0.1}"
case "$RASA_HOST" in 0.0.0.0|::) RASA_CHECK_HOST=127.0.0.1 ;; *) RASA_CHECK_HOST="$RASA_HOST" ;; esac

$BIN/python -m satark.preflight rasa actions || { echo "Not starting: see above (docs/THREAT_MODEL.md)."; exit 1; }

# endpoints.yml reads the action server's address from the environment (docs/DEPLOYMENT.md).
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:$ACTIONS_PORT/webhook}"
# Forwarded reports link officers to this dashboard.
export DASHBOARD_PUBLIC_URL="${DASHBOARD_PUBLIC_URL:-http://127.0.0.1:$DASHBOARD_PORT}"
# One BLAS thread per process: numpy's spinning worker threads tripled the CPU cost of a turn
# (bench/results/load.md); concurrency comes from serving many conversations, not from BLAS.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
  MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}" SANIC_KEEP_ALIVE_TIMEOUT="${SANIC_KEEP_ALIVE_TIMEOUT:-75}"
# Two Rasa worker processes (one per core): the inbound queue keeps each WhatsApp conversation on
# one worker at a time and in order, so the in-memory lock store is enough here (docs/DEPLOYMENT.md).
export SANIC_WORKERS="${SANIC_WORKERS:-2}"

pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

if [ -z "${WHATSAPP_ACCESS_TOKEN:-}" ]; then
  # Development: the connector talks to the local Graph API stand-in instead of Meta.
  eval "$($BIN/python -m sandbox env --port "$SANDBOX_PORT")"
  SANDBOX=1
fi

case "${SATARK_DEV_MODE,,}" in 1|true|yes|on)
  # Development: demo dashboard users (sp-gzp, sp-jnp, dig-vns, admin) the first time; their random
  # passwords are shown here once and never again (`python -m satark.users reset-password NAME`).
  $BIN/python -m satark.users demo ;;
esac

$BIN/python -m satark.action_server --host "$ACTIONS_HOST" --port "$ACTIONS_PORT" \
  >"$VAR/logs/actions.log" 2>&1 & pids+=($!)
# `rasa run`; Rasa's HTTP API (model upload, tracker read and write) only when RASA_API_TOKEN is
# set, which satark.rasa_server passes to Rasa inside the process (not visible in `ps`).
$BIN/python -m satark.rasa_server --model models/satark.tar.gz -i "$RASA_HOST" --port "$RASA_PORT" \
  --credentials credentials.yml --endpoints endpoints.yml >"$VAR/logs/rasa.log" 2>&1 & pids+=($!)
if [ -n "${SANDBOX:-}" ]; then
  $BIN/python -m sandbox serve --port "$SANDBOX_PORT" --webhook "http://$RASA_CHECK_HOST:$RASA_PORT/webhooks/whatsapp/webhook" \
    >"$VAR/logs/sandbox.log" 2>&1 & pids+=($!)
fi
$BIN/streamlit run dashboard/app.py --server.address "$DASHBOARD_HOST" --server.port "$DASHBOARD_PORT" \
  --server.headless true --browser.gatherUsageStats false >"$VAR/logs/dashboard.log" 2>&1 & pids+=($!)
$BIN/python -m satark.retention --every-hours 24 >>"$VAR/logs/retention.log" 2>&1 & pids+=($!)

printf 'Waiting for the Rasa server'
for _ in $(seq 1 120); do
  curl -fs "http://$RASA_CHECK_HOST:$RASA_PORT/" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { echo; echo "Rasa failed to start; see $VAR/logs/rasa.log"; exit 1; }
  printf '.'; sleep 2
done
echo
cat <<MSG
Satark Mitra is running (logs in $VAR/logs):
  Rasa server (REST channel, development mode only): http://$RASA_CHECK_HOST:$RASA_PORT/webhooks/rest/webhook
  WhatsApp webhook:            http://$RASA_CHECK_HOST:$RASA_PORT/webhooks/whatsapp/webhook
  Action server:               http://$ACTIONS_HOST:$ACTIONS_PORT/health
  Dashboard:                   http://$DASHBOARD_HOST:$DASHBOARD_PORT
MSG
[ -n "${SANDBOX:-}" ] && echo "  WhatsApp sandbox (chat page): http://127.0.0.1:$SANDBOX_PORT/" \
  && echo "  Officer inbox (forwards):     http://127.0.0.1:$SANDBOX_PORT/officer"
[ -n "${RASA_API_TOKEN:-}" ] && echo "  Rasa HTTP API: on, token required" || echo "  Rasa HTTP API: off (set RASA_API_TOKEN to turn it on)"
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}"
echo "A process stopped; shutting down. See $VAR/logs."
