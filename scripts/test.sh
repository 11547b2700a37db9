#!/usr/bin/env bash
# Set up (if needed) and run the test suite. pytest's exit code is passed on: 5 (no tests ran) fails too.
# Two workers, one thread each, a test file to a worker (its module fixtures built once): on the 2-core machine
# the suite takes 5-7 minutes this way, 11 in one process (two torch processes of two threads each on two cores
# slow each other several times over; of one thread each, they do not).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OMP_NUM_THREADS=1 exec .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
