#!/usr/bin/env bash
# Creates .venv (if missing) and installs the app; with --test also the test tools and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Qwen Playground needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi

extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
# Reinstall only when pyproject.toml changed, so a second start is quick.
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)${extra:+-test}"
if [ ! -f "$stamp" ]; then
    echo "Installing Qwen Playground${extra:+ with the test tools} into .venv (torch is large: this takes a few minutes once)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}" 2>&1 \
        | grep -v -e "BuildBackendWarning" -e "^ *!!" -e "^ *\*\*\*" -e "Please be careful" -e "name as your package" \
            -e "WheelFile" -e "^ *$" || true
    .venv/bin/python -c "import gradio, transformers, torch" || { echo "The install did not complete; see above." >&2; exit 1; }
    touch "$stamp"
fi

if [ "${1:-}" = "--test" ]; then
    chromium=$(command -v chromium || command -v chromium-browser || true)
    if [ -z "$chromium" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "Installing Debian's chromium for the browser tests"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        else
            echo "The browser tests need Chromium: install it (Debian/Ubuntu: sudo apt-get install chromium)," >&2
            echo "or set PLAYGROUND_CHROMIUM to a Chromium or Chrome binary." >&2
            [ -n "${PLAYGROUND_CHROMIUM:-}" ] || exit 1
        fi
    fi
fi
