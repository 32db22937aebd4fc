#!/usr/bin/env bash
# The benchmark report: every benchmark the project defines, each side by side with its
# baseline measured in the same run, collected into one markdown file with the machine described.
#
#   benches/report.sh [--quick] [--out FILE]      (default FILE: benches/RESULTS.md)
#
# | benchmark | prequal | baseline in the same run |
# |---|---|---|
# | verify (benches/verify.sh) | `prequal verify` of a 1 GiB package, stored and deflated | `openssl dgst -sha256`; `unzip -p \| openssl dgst` |
# | uploads and download (benches/registry.sh) | uploads/s on SQLite and PostgreSQL; download MiB/s | the same blob from nginx (static file server) |
# | search (cargo bench --bench search) | p50/p99 of `GET /v1/search` at 100 000 packages, both databases | the same query as one SQL statement in `sqlite3` / `psql` |
# | fit ranking (cargo bench --bench fit_ranking) | ranking 10 000 packages against every built-in profile | the first measurement (benches/RESULTS-fit.md, 2026-11-23) |
# | mixed load (tests/suite/load.rs, release build) | uploads, searches, downloads from 4 clients for 2 minutes per database: throughput, p50/p90/p99, errors (must be 0) | — (absolute numbers) |
# | mirror sync (cargo bench --bench mirror_sync) | a mirror syncing from the origin on loopback | the same blobs fetched with parallel curl |
#
# --quick runs every benchmark smaller and shorter (minutes instead of about an hour): numbers
# to check the report works, not to quote. Run it on a quiet machine: the load average before and
# after each benchmark is recorded next to its numbers.
# Needs what the individual benchmarks need: cargo, python3, psql, sqlite3, nginx, wrk, curl,
# openssl, unzip, a PostgreSQL at PG_URL (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail

quick=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
root=$(cd "$(dirname "$0")/.." && pwd)
out=${out:-$root/benches/RESULTS.md}
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432}
cd "$root"

echo "== building the release binary and the benchmarks" >&2
cargo build --release --quiet --bin prequal
cargo bench --no-run --quiet --bench search --bench fit_ranking --bench mirror_sync
export PREQUAL_BIN="$root/target/release/prequal"

logs=$(mktemp -d "${TMPDIR:-/tmp}/prequal-report.XXXXXX")
trap 'rm -rf "$logs"' EXIT
sections=()

# Runs one benchmark; keeps its output; records its time and the load around it.
bench() {
  local name=$1 title=$2; shift 2
  local before after t0 t1 rc=0
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  t0=$(date +%s)
  echo "== $title" >&2
  "$@" > "$logs/$name.out" 2> "$logs/$name.err" || rc=$?
  t1=$(date +%s)
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  {
    echo "## $title"
    echo
    echo "Command: \`$*\` — $((t1 - t0)) s; load average before $before, after $after."
    if [ "$rc" != 0 ]; then
      echo
      echo "**FAILED (exit $rc)**; last lines of its error output:"
      echo '```'
      tail -20 "$logs/$name.err"
      echo '```'
    fi
    echo
    # Tables and the lines that say what was measured; progress chatter stays out.
    grep -E '^\||^(payload|prequal|Machine|Server|- |generated|sqlite|postgres|[0-9]+ packages|ratio|mirror|curl)' "$logs/$name.out" || true
    echo
  } > "$logs/$name.md"
  sections+=("$logs/$name.md")
}

if [ "$quick" = 1 ]; then
  verify_mib=128; verify_runs=1; registry_args=(--quick)
  search_env=(PREQUAL_BENCH_PACKAGES=5000 PREQUAL_BENCH_SECONDS=3)
  fit_env=(PREQUAL_BENCH_PACKAGES=1000 PREQUAL_BENCH_RUNS=1)
  mirror_env=(PREQUAL_BENCH_PACKAGES=500)
  load_secs=10
else
  verify_mib=1024; verify_runs=3; registry_args=()
  search_env=(PREQUAL_BENCH_PACKAGES=100000 PREQUAL_BENCH_SECONDS=15)
  fit_env=(PREQUAL_BENCH_PACKAGES=10000 PREQUAL_BENCH_RUNS=5)
  mirror_env=(PREQUAL_BENCH_PACKAGES=10000)
  load_secs=120
fi

bench verify "Verifying a package: prequal verify vs openssl SHA-256 and unzip" \
  benches/verify.sh "$verify_mib" "$verify_runs"
bench registry "Uploads (SQLite, PostgreSQL) and downloads vs nginx" \
  benches/registry.sh "${registry_args[@]}"
bench search "Search latency vs the same query in the database shell" \
  env "${search_env[@]}" PREQUAL_BENCH_POSTGRES="$pg_url/postgres" cargo bench --quiet --bench search
bench fit "Fit ranking (baseline: the first measurement, benches/RESULTS-fit.md)" \
  env "${fit_env[@]}" PREQUAL_BENCH_POSTGRES="$pg_url/postgres" cargo bench --quiet --bench fit_ranking
bench load "Mixed load (uploads, searches, downloads; 4 clients) on SQLite and PostgreSQL" \
  env PREQUAL_LOAD_SECONDS="$load_secs" PREQUAL_TEST_POSTGRES="$pg_url/postgres" \
  cargo nextest run --cargo-profile release -E 'test(/^load::/)' --no-capture --test-threads 1
bench mirror "Mirror sync vs parallel curl of the same package files" \
  env "${mirror_env[@]}" cargo bench --quiet --bench mirror_sync

{
  echo "# Benchmark report"
  echo
  echo "Written by \`benches/report.sh$([ "$quick" = 1 ] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml benches || echo ' with local changes')."
  echo
  echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr); $(psql "$pg_url/postgres" -qAtc 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /'), SQLite $(sqlite3 --version | cut -d' ' -f1) (shell), nginx $(nginx -v 2>&1 | cut -d/ -f2)."
  echo "Servers and load generators share the machine. Ratios are prequal relative to the baseline"
  echo "(throughput ratio, or baseline time / prequal time): above 1 means prequal is faster."
  echo
  [ "$quick" = 1 ] && echo "**Quick run: small sizes and short runs, to check the report, not numbers to quote.**" && echo
  cat "${sections[@]}"
} > "$out"
echo "== wrote $out" >&2
