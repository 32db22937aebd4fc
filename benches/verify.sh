#!/usr/bin/env bash
# Benchmark: `prequal verify` on a large package (default 1 GiB), stored and deflated, against the
# best plain baselines over the same bytes in the same run:
#   stored:   openssl dgst -sha256 over the payload files
#   deflated: unzip -p PKG.zip | openssl dgst -sha256
# Reports best-of-N wall time, throughput, the ratio to the baseline and prequal's peak memory.
# Usage: benches/verify.sh [SIZE_MIB] [RUNS]     (needs python3, unzip, openssl, GNU time)
set -euo pipefail
size=${1:-1024}
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin=$root/target/release/prequal
work=$(mktemp -d "${TMPDIR:-/tmp}/prequal-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

python3 "$root/benches/make_large_package.py" "$work/src" "$size"
"$bin" pack "$work/src" --out "$work/stored.zip" --store >/dev/null
"$bin" pack "$work/src" --out "$work/deflated.zip" >/dev/null
payload=$(du -sb "$work/src" | cut -f1)
cat "$work"/src/raw/* "$work"/src/datasets/* "$work/src/prequal.json" > "$work/payload.bin"
cat "$work/stored.zip" "$work/deflated.zip" "$work/payload.bin" > /dev/null   # warm the page cache

best() { # best wall seconds of $runs runs of "$@"; sets $best_s and $best_kib (peak RSS)
  best_s=""; best_kib=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1
    read -r s kib < "$work/t"
    if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s; fi
    if [ "$kib" -gt "$best_kib" ]; then best_kib=$kib; fi
  done
}
mibps() { awk "BEGIN{printf \"%.0f\", $payload/1048576/$1}"; }

best "$bin" verify "$work/stored.zip" --allow-unsigned; v_st=$best_s; m_st=$best_kib
best openssl dgst -sha256 "$work/payload.bin"; o_st=$best_s
best "$bin" verify "$work/deflated.zip" --allow-unsigned; v_df=$best_s; m_df=$best_kib
best sh -c "unzip -p '$work/deflated.zip' | openssl dgst -sha256"; o_df=$best_s

echo "payload: $payload bytes ($(ls "$work"/src/raw | wc -l) raw files); stored zip $(stat -c %s "$work/stored.zip") B, deflated zip $(stat -c %s "$work/deflated.zip") B"
echo "| case | prequal verify | baseline | ratio (prequal/baseline throughput) | prequal peak RSS |"
echo "|---|---|---|---|---|"
echo "| stored | ${v_st} s ($(mibps "$v_st") MiB/s) | openssl dgst -sha256: ${o_st} s ($(mibps "$o_st") MiB/s) | $(awk "BEGIN{printf \"%.2f\", $o_st/$v_st}") | $((m_st / 1024)) MiB |"
echo "| deflated | ${v_df} s ($(mibps "$v_df") MiB/s) | unzip -p \| openssl: ${o_df} s ($(mibps "$o_df") MiB/s) | $(awk "BEGIN{printf \"%.2f\", $o_df/$v_df}") | $((m_df / 1024)) MiB |"
