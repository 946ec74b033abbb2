#!/usr/bin/env bash
# Start the MLflow tracking server that sweeps log to (over HTTP, one writer per sweep driver).
#
#   mlflow/server.sh                          # SQLite + local artifacts under ./mlruns, 127.0.0.1:5000
#   mlflow/server.sh --port 5001
#   MLFLOW_BACKEND_STORE_URI=postgresql://user:pass@db/mlflow mlflow/server.sh
#   mlflow/server.sh --host 0.0.0.0 --allowed-hosts mlflow.example.org   # opens it: read mlflow/README.md first
#
# Then: wsvad sweep ... --tracking-uri http://127.0.0.1:5000   and open that address in a browser.
set -euo pipefail

HOST="${MLFLOW_HOST:-127.0.0.1}"
PORT="${MLFLOW_PORT:-5000}"
ROOT="${MLFLOW_ROOT:-$PWD/mlruns}"
BACKEND="${MLFLOW_BACKEND_STORE_URI:-sqlite:///$ROOT/mlflow.db}"
ARTIFACTS="${MLFLOW_ARTIFACTS_DESTINATION:-$ROOT/artifacts}"
WORKERS="${MLFLOW_WORKERS:-2}"
ALLOWED_HOSTS="${MLFLOW_ALLOWED_HOSTS:-}"   # Host headers accepted (MLflow's default: localhost, private IPs)

while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --backend-store-uri) BACKEND="$2"; shift 2 ;;
    --artifacts-destination) ARTIFACTS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --allowed-hosts) ALLOWED_HOSTS="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "mlflow/server.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$HOST" in
  127.0.0.1|localhost|::1) ;;
  *) echo "mlflow/server.sh: warning: binding to $HOST exposes the tracking server (no authentication) to that network" >&2 ;;
esac

case "$BACKEND" in sqlite:///*) mkdir -p "$(dirname "${BACKEND#sqlite:///}")" ;; esac
case "$ARTIFACTS" in *://*) ;; *) mkdir -p "$ARTIFACTS" ;; esac

export MLFLOW_DISABLE_TELEMETRY=true
MLFLOW_BIN="${MLFLOW_BIN:-$(command -v mlflow || echo "$(dirname "$0")/../.venv/bin/mlflow")}"
EXTRA=()
if [ -n "$ALLOWED_HOSTS" ]; then EXTRA+=(--allowed-hosts "$ALLOWED_HOSTS"); fi
exec "$MLFLOW_BIN" server --backend-store-uri "$BACKEND" --artifacts-destination "$ARTIFACTS" \
  --host "$HOST" --port "$PORT" --workers "$WORKERS" ${EXTRA[@]+"${EXTRA[@]}"}
