#!/usr/bin/env bash
# Set up (if needed) and run the test suite. pytest's exit code is passed on: 5 (no tests ran) fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
