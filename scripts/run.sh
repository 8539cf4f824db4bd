#!/usr/bin/env bash
# Sets up .venv and starts the app at http://127.0.0.1:7860. Extra flags go to app.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python app.py "$@"
