#!/usr/bin/env bash
# The big hostile-input fuzz run (issue 15): 1,000 examples per fuzz test, i.e. 2,000 generated
# inputs per reader (hostile values + byte mutations; protobuf: built fields + byte mutations)
# and 1,000 per endpoint (OTLP protobuf, OTLP JSON, the query API). Prints how long it took.
#   tests/hostile/fuzz_big.sh [examples per test, default 1000]
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-1000}"
started=$(date +%s)
OBSKIT_FUZZ_EXAMPLES="$examples" .venv/bin/python -m pytest -q -p no:cacheprovider \
    --hypothesis-show-statistics tests/hostile/test_fuzz_readers.py tests/hostile/test_fuzz_endpoint.py
echo "fuzz run: ${examples} examples per test, $(( $(date +%s) - started )) s"
