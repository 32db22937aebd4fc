#!/usr/bin/env bash
# SIGKILL at random points, many times, each run followed by a full consistency check
# (`prequal admin check`: every stored package hashed and verified again, the log's leaves and
# root recomputed, one publish entry per package, no orphan file, no temporary file):
#
#   tests/tools/kill-loop.sh [RUNS] [ROUNDS]      (defaults: 10 runs of 20 kill rounds)
#
# Each run is tests/suite/crash.rs on SQLite and on PostgreSQL with ROUNDS kills during a stream of
# uploads at random delays, and, when present, tests/suite/mirror.rs's kill-during-sync test.
# CI runs the same tests once with 4 rounds; this script is the long version.
set -euo pipefail
runs=${1:-10}
rounds=${2:-20}
cd "$(dirname "$0")/../.."
export PREQUAL_TEST_POSTGRES="${PREQUAL_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
export PREQUAL_CRASH_ROUNDS=$rounds
filter='test(/^crash::/)'
if [ -f tests/suite/mirror.rs ]; then filter="$filter | test(/^mirror::.*kill/)"; fi
cargo nextest run --no-run
start=$(date +%s)
for i in $(seq "$runs"); do
    echo "== run $i of $runs ($rounds kill rounds each)"
    cargo nextest run --no-fail-fast -E "$filter" --test-threads 1
done
echo "== $runs runs, $((runs * rounds)) kill rounds per backend, all consistent, in $(( $(date +%s) - start )) s"
