#!/usr/bin/env bash
# Builds every fuzz target with cargo-fuzz (libFuzzer) and runs each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 20 seconds, every target)
#
# Exits non-zero when any target finds a crash, a panic, a hang (-timeout) or an allocation past
# -rss_limit_mb; the input that did it is kept under tests/fuzz/artifacts/<target>/ and the
# target's log under tests/fuzz/logs/. Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none TARGET ARTIFACT
# and add it as a regression test under tests/suite/ once fixed.
#
# Corpus: tests/fuzz/corpus/<target>/ (not committed) grows across local runs; every run also
# reads the seeds: the sample packages (zips, prequal.json, dataset and curve CSVs) and the small
# committed files under tests/fuzz/seeds/<target>/.
#
# cargo-fuzz needs nightly-only rustc flags (-Z); RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. No sanitizer: prequal and its parsers are safe Rust, and instrumentation-only
# builds run about twice as fast; overflow checks and debug assertions stay on.
# cargo-fuzz itself is installed (pinned) when missing. FUZZ_SANITIZER overrides the sanitizer.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_TARGET="${1:-20}"
shift || true
CARGO_FUZZ_VERSION=0.13.2
FUZZ_DIR=tests/fuzz
SANITIZER="${FUZZ_SANITIZER:-none}"
RSS_LIMIT_MB=2048
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --quiet "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
fi

# Seeds, assembled fresh from the sample packages and the committed seed files.
SEEDS="$(mktemp -d)"
trap 'rm -rf "$SEEDS"' EXIT
mkdir -p "$SEEDS"/{package_zip,manifest_json,dataset_csv}
cp sample-packages/packages/*.zip "$SEEDS/package_zip/"
for source in sample-packages/sources/*/; do
    name="$(basename "$source")"
    cp "$source/prequal.json" "$SEEDS/manifest_json/$name.json"
    for csv in "$source"/datasets/*.csv "$source"/curves/*.csv; do
        [ -f "$csv" ] && cp "$csv" "$SEEDS/dataset_csv/$name-$(basename "$csv")"
    done
done
for dir in "$FUZZ_DIR"/seeds/*/; do
    mkdir -p "$SEEDS/$(basename "$dir")"
    cp "$dir"/* "$SEEDS/$(basename "$dir")/"
done

BUILD=(--fuzz-dir "$FUZZ_DIR" --sanitizer "$SANITIZER")
echo "fuzz: building ${#TARGETS[@]} targets (sanitizer: $SANITIZER)"
cargo fuzz build "${BUILD[@]}"

mkdir -p "$FUZZ_DIR/logs"
failed=()
printf '%-14s %10s %9s %7s %6s %s\n' target execs "exec/s" corpus cov result
for target in "${TARGETS[@]}"; do
    case "$target" in
        package_zip) max_len=65536 ;;
        *) max_len=16384 ;;
    esac
    corpus="$FUZZ_DIR/corpus/$target"
    mkdir -p "$corpus" "$SEEDS/$target"
    log="$FUZZ_DIR/logs/$target.log"
    status=ok
    if ! cargo fuzz run "${BUILD[@]}" "$target" "$corpus" "$SEEDS/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$RSS_LIMIT_MB" \
        -max_len="$max_len" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        status=FAILED
        failed+=("$target")
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    entries="$(find "$corpus" -type f | wc -l)"
    printf '%-14s %10s %9s %7s %6s %s\n' "$target" "${execs:-?}" "${rate:-?}" "$entries" "${cov:-?}" "$status"
    if [ "$status" = FAILED ]; then
        echo "---- $target: last lines of $log" >&2
        tail -40 "$log" >&2
        echo "----" >&2
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: findings in: ${failed[*]} (inputs under $FUZZ_DIR/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets ran ${SECONDS_PER_TARGET}s each, no findings"
