#!/usr/bin/env bash
# Set up, start ragbus (embedded NATS, Postgres, Qdrant local), ingest a folder, ask a question.
# Usage: scripts/demo.sh [FOLDER] [QUESTION]
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-}"
question="${2:-How can a client submit a document using only a NATS connection?}"
bash scripts/setup.sh
port="${RAGBUS_DEMO_PORT:-8765}"
data_dir="${RAGBUS_DEMO_DATA_DIR:-.ragbus/demo}"
# ragbus up makes the tenant's first admin key and writes it, with stack.json, under the
# data dir; the CLI commands below find both there (RAGBUS_DATA_DIR).
export RAGBUS_URL="http://127.0.0.1:${port}" RAGBUS_TENANT="${RAGBUS_TENANT:-demo}"
export RAGBUS_DATA_DIR="$data_dir"
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
mkdir -p "$data_dir"
.venv/bin/ragbus up --port "$port" --data-dir "$data_dir" >"$data_dir/ragbus.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  if curl -fsS "$RAGBUS_URL/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then cat "$data_dir/ragbus.log"; exit 1; fi
  sleep 0.5
done
curl -fsS "$RAGBUS_URL/readyz" >/dev/null || { cat "$data_dir/ragbus.log"; exit 1; }
if [ -n "$folder" ]; then .venv/bin/ragbus ingest "$folder"; else .venv/bin/ragbus ingest docs README.md; fi
echo
echo "Q: $question"
.venv/bin/ragbus ask "$question"
