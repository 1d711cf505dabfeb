#!/usr/bin/env bash
# Start the whole system on this machine: action server, Rasa server, the WhatsApp sandbox
# (when no real WhatsApp credentials are configured) and the dashboard. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] && { set -a; . ./.env; set +a; }
# A local start is development unless .env says otherwise (see .env.example).
export SATARK_DEV_MODE="${SATARK_DEV_MODE:-true}" PYTHONPATH="$PWD"
BIN=.venv/bin
VAR="${SATARK_VAR_DIR:-$PWD/var}"
mkdir -p "$VAR/logs"
RASA_PORT="${RASA_PORT:-5005}" ACTIONS_PORT="${ACTIONS_PORT:-5055}" DASHBOARD_PORT="${DASHBOARD_PORT:-8501}"
SANDBOX_PORT="${SANDBOX_PORT:-8010}"
# endpoints.yml reads the action server's address from the environment (docs/DEPLOYMENT.md).
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:$ACTIONS_PORT/webhook}"
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

$BIN/rasa run actions --port "$ACTIONS_PORT" >"$VAR/logs/actions.log" 2>&1 & pids+=($!)
$BIN/rasa run --model models/satark.tar.gz --port "$RASA_PORT" --enable-api \
  --credentials credentials.yml --endpoints endpoints.yml >"$VAR/logs/rasa.log" 2>&1 & pids+=($!)
if [ -n "${SANDBOX:-}" ]; then
  $BIN/python -m sandbox serve --port "$SANDBOX_PORT" --webhook "http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook" \
    >"$VAR/logs/sandbox.log" 2>&1 & pids+=($!)
fi
$BIN/streamlit run dashboard/app.py --server.port "$DASHBOARD_PORT" --server.headless true \
  --browser.gatherUsageStats false >"$VAR/logs/dashboard.log" 2>&1 & pids+=($!)

printf 'Waiting for the Rasa server'
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$RASA_PORT/" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { echo; echo "Rasa failed to start; see $VAR/logs/rasa.log"; exit 1; }
  printf '.'; sleep 2
done
echo
cat <<MSG
Satark Mitra is running (logs in $VAR/logs):
  Rasa server (REST channel):  http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook
  WhatsApp webhook:            http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/webhook
  Action server:               http://127.0.0.1:$ACTIONS_PORT/health
  Dashboard:                   http://127.0.0.1:$DASHBOARD_PORT
MSG
[ -n "${SANDBOX:-}" ] && echo "  WhatsApp sandbox (chat page): http://127.0.0.1:$SANDBOX_PORT/"
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}"
echo "A process stopped; shutting down. See $VAR/logs."
