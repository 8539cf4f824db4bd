#!/usr/bin/env bash
# Sets up .venv with the test tools (and Chromium), then runs the whole suite. Extra flags go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
