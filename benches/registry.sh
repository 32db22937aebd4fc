#!/usr/bin/env bash
# Benchmark: the registry server (`prequal serve`) on SQLite and on PostgreSQL.
#   uploads:  N distinct small packages (the ndfeb-n42sh-baseline sample, one version each,
#             signed by a registered lab key) uploaded by benches/upload_load.py, a separate
#             process with C threads on keep-alive connections -> uploads/s, p50/p99 latency.
#   download: one large stored package uploaded once, then downloaded with wrk and with a single
#             curl stream, from prequal and from nginx serving the very same blob file on another
#             loopback port -> MiB/s and the ratio prequal/nginx.
# Everything runs on this machine; the table goes to stdout and benches/RESULTS-registry.md.
# Usage: benches/registry.sh [--quick]
#   --quick: 60 uploads, 128 MiB download package, one round of 5 s wrk runs
#            (default: 300 uploads, 512 MiB, best of 3 rounds of 10 s wrk runs)
# Environment: CARGO_TARGET_DIR (default target/), PREQUAL_BIN (use this binary, skip the build),
#   UPLOADS (number of small packages), UPLOAD_CONCURRENCY (4), WORKERS (nproc),
#   NAME_PER_UPLOAD=1 (give each small package its own name instead of a new version),
#   PG_URL (postgres://postgres@127.0.0.1:5432, trust auth, may create databases).
# Needs: cargo, python3, psql, nginx, wrk, curl.
set -euo pipefail

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ]; then small_n=60; large_mib=128; wrk_secs=5; rounds=1; else small_n=300; large_mib=512; wrk_secs=10; rounds=3; fi
small_n=${UPLOADS:-$small_n}
concurrency=${UPLOAD_CONCURRENCY:-4}
workers=${WORKERS:-$(nproc)}
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432}
root=$(cd "$(dirname "$0")/.." && pwd)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

for tool in python3 psql nginx wrk curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
nginx_bin=$(command -v nginx)

if [ -n "${PREQUAL_BIN:-}" ]; then
  bin=$PREQUAL_BIN   # an already built binary, e.g. while the tree does not compile
  echo "== using $bin (not building)" >&2
else
  echo "== building the release binary" >&2
  target=${CARGO_TARGET_DIR:-$root/target}
  CARGO_TARGET_DIR=$target cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin=$target/release/prequal
fi
build="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo '+local changes')"
[ -n "${PREQUAL_BIN:-}" ] && build="PREQUAL_BIN=$bin, built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC'); tree now at $build"

# --- cleanup: every process we start, the PostgreSQL database, the temp dir ---------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/prequal-registry-bench.XXXXXX")
pids=()
pg_db=""
stop_all() {
  local pid rc
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    # 0: graceful stop, 143: killed by SIGTERM; anything else is worth knowing
    [ "$rc" = 0 ] || [ "$rc" = 143 ] || echo "warning: process $pid exited with status $rc on SIGTERM" >&2
  done
  pids=()
}
drop_db() {
  if [ -n "$pg_db" ]; then
    psql "$pg_url/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null || true
    pg_db=""
  fi
}
cleanup() { stop_all; drop_db; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mib() { awk "BEGIN{printf \"%.0f\", $1 / 1048576}"; }

# --- packages: made once, uploaded to both backends (each gets the same lab key registered) ----
echo "== making $small_n small packages and a $large_mib MiB stored package" >&2
"$bin" keygen --out "$work/lab.key" --comment "registry benchmark lab" --json > "$work/key.json"
public_key=$(json_get public_key < "$work/key.json")
cp -r "$root/sample-packages/sources/ndfeb-n42sh-baseline" "$work/small-src"
mkdir "$work/small"
for i in $(seq 1 "$small_n"); do
  # Only the version differs; the manifest has exactly one "version" line.
  sed -i "s/^  \"version\": \"[^\"]*\"/  \"version\": \"1.0.$i\"/" "$work/small-src/prequal.json"
  if [ "${NAME_PER_UPLOAD:-0}" = 1 ]; then   # diagnosis: a new name each time, not a new version
    sed -i "s/^  \"name\": \"[^\"]*\"/  \"name\": \"ndfeb-n42sh-baseline-$i\"/" "$work/small-src/prequal.json"
  fi
  pkg=$(printf '%s/small/pkg-%04d.zip' "$work" "$i")
  "$bin" pack "$work/small-src" --out "$pkg" >/dev/null
  "$bin" sign "$pkg" --key "$work/lab.key" >/dev/null
done
small_bytes=$(cat "$work"/small/*.zip | wc -c)
small_kb=$(awk "BEGIN{printf \"%.1f\", $small_bytes / $small_n / 1000}")
python3 "$root/benches/make_large_package.py" "$work/large-src" "$large_mib"
"$bin" pack "$work/large-src" --out "$work/large.zip" --store >/dev/null
"$bin" sign "$work/large.zip" --key "$work/lab.key" >/dev/null
rm -rf "$work/large-src"
large_bytes=$(stat -c %s "$work/large.zip")

# wrk script: total bytes received (partial responses included) over the run's duration.
cat > "$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d\n", summary.bytes, summary.duration,
    summary.requests, e.status, e.connect + e.read + e.write))
end
EOF

# wrk_run URL -> "MiB/s errors" (errors: non-2xx responses and socket errors)
wrk_run() {
  local out
  out=$(wrk -t2 -c4 -d"${wrk_secs}s" --timeout 120s -s "$work/report.lua" "$1" | grep '^WRK_RESULT')
  # shellcheck disable=SC2086
  set -- $out
  awk -v b="$2" -v us="$3" -v s="$5" -v e="$6" 'BEGIN{printf "%.0f %d", b / 1048576 / (us / 1e6), s + e}'
}
# curl_once URL -> MiB/s of one single-stream download (must be a 200 of the full size)
curl_once() {
  local out code speed size
  out=$(curl -sS -o /dev/null -w '%{http_code} %{speed_download} %{size_download}' "$1")
  read -r code speed size <<< "$out"
  if [ "$code" != 200 ] || [ "$size" != "$large_bytes" ]; then
    echo "error: curl $1 -> $code, $size bytes" >&2; exit 1
  fi
  mib "$speed"
}
max() { awk -v a="$1" -v b="$2" 'BEGIN{print (b > a ? b : a)}'; }

# start_nginx ROOT_DIR -> sets nginx_url; serves ROOT_DIR on a free loopback port
start_nginx() {
  local ng=$work/nginx port
  port=$(free_port)
  mkdir -p "$ng"
  {
    # As root, the master would switch workers to an unprivileged user that cannot read the
    # private temp dir; keep root then. Otherwise the directive would only warn.
    [ "$(id -u)" = 0 ] && echo "user root root;"
    cat <<EOF
worker_processes $workers;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $ng/body;
  proxy_temp_path $ng/proxy;
  fastcgi_temp_path $ng/fastcgi;
  uwsgi_temp_path $ng/uwsgi;
  scgi_temp_path $ng/scgi;
  types { application/zip zip; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port;
    root $1;
  }
}
EOF
  } > "$ng/nginx.conf"
  "$nginx_bin" -p "$ng" -e "$ng/error.log" -c "$ng/nginx.conf" &
  pids+=($!)
  nginx_url=http://127.0.0.1:$port
  for _ in $(seq 100); do
    # any HTTP status (the root has no index: 403/404) means it is listening
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$nginx_url/" || true)" != 000 ] && return 0
    sleep 0.1
  done
  echo "error: nginx did not start:" >&2; cat "$ng/error.log" >&2; exit 1
}

# --- one backend: fresh registry, uploads, then downloads against nginx ------------------------
results=()
run_backend() {
  local backend=$1 data=$work/data-$1 db url token upload up_json resp code secs digest sha blob
  mkdir -p "$data"
  if [ "$backend" = sqlite ]; then
    db=sqlite://$data/prequal.db
  else
    pg_db=prequal_bench_$$
    psql "$pg_url/postgres" -qAt -c "CREATE DATABASE \"$pg_db\"" >/dev/null
    db=$pg_url/$pg_db
  fi
  echo "== $backend: $db" >&2
  # --pool-size 1: with a larger pool, r2d2 refills it in the background, and a PostgreSQL
  # connect still running when the short-lived admin process exits crashes it (SIGSEGV in
  # OpenSSL during exit handlers, about 1 run in 8 here) after the command itself succeeded.
  admin() { "$bin" admin --db "$db" --data "$data" --pool-size 1 "$@"; }
  admin org add bench-lab --name "Registry Benchmark Lab" --kind lab --country US >/dev/null
  admin key add bench-lab --public-key "$public_key" >/dev/null
  token=$(admin token create bench-lab --role lab --json | json_get token)

  "$bin" serve --db "$db" --data "$data" --bind 127.0.0.1:0 --workers "$workers" \
    --max-upload-bytes $((large_bytes * 2)) > "$data/serve.out" 2> "$data/serve.log" &
  pids+=($!)
  url=""
  for _ in $(seq 300); do
    url=$(sed -n 's|^prequal registry listening on \(http://[^ ]*\).*|\1|p' "$data/serve.out")
    [ -n "$url" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "error: the registry did not start:" >&2; cat "$data/serve.log" >&2; exit 1; }

  echo "== $backend: uploading $small_n packages, concurrency $concurrency" >&2
  up_json=$(python3 "$root/benches/upload_load.py" --url "$url" --token "$token" \
    --concurrency "$concurrency" "$work/small") || true   # errors are counted and reported
  [ -n "$up_json" ] || { echo "error: the load generator failed" >&2; exit 1; }
  local ups p50 p99 errs thirds
  ups=$(json_get uploads_per_s <<< "$up_json"); p50=$(json_get p50_ms <<< "$up_json")
  thirds="$(json_get first_third_per_s <<< "$up_json") → $(json_get last_third_per_s <<< "$up_json")"
  p99=$(json_get p99_ms <<< "$up_json"); errs=$(json_get errors <<< "$up_json")

  echo "== $backend: uploading the $(mib "$large_bytes") MiB package" >&2
  resp=$(curl -sS -X POST -T "$work/large.zip" -H "Authorization: Bearer $token" \
    -H "Content-Type: application/zip" -H "Expect:" -o "$data/large.json" \
    -w '%{http_code} %{time_total}' "$url/v1/packages")
  read -r code secs <<< "$resp"
  [ "$code" = 201 ] || { echo "error: large upload -> $code: $(head -c 500 "$data/large.json")" >&2; exit 1; }
  digest=$(json_get digest < "$data/large.json")
  sha=$(json_get file_sha256 < "$data/large.json")
  sha=${sha#sha256:}
  blob=blobs/sha256/${sha:0:2}/$sha.zip
  [ -f "$data/$blob" ] || { echo "error: blob $data/$blob not found" >&2; exit 1; }

  start_nginx "$data"
  local p_url=$url/v1/packages/$digest/download n_url=$nginx_url/$blob
  cat "$data/$blob" > /dev/null   # page cache
  curl_once "$p_url" >/dev/null; curl_once "$n_url" >/dev/null   # warm-up, checks both serve it
  # Best of $rounds, prequal and nginx alternating, so that drifting background load (this
  # machine may be shared) does not favour one side.
  echo "== $backend: download, best of $rounds rounds: wrk ${wrk_secs}s and curl, prequal then nginx" >&2
  local out m e wp=0 wn=0 wp_err=0 wn_err=0 cp=0 cn=0 runs=""
  for _ in $(seq "$rounds"); do
    out=$(wrk_run "$p_url"); read -r m e <<< "$out"; wp=$(max "$wp" "$m"); wp_err=$((wp_err + e)); runs+=" wrk-prequal=$m"
    out=$(wrk_run "$n_url"); read -r m e <<< "$out"; wn=$(max "$wn" "$m"); wn_err=$((wn_err + e)); runs+=" wrk-nginx=$m"
    out=$(curl_once "$p_url"); cp=$(max "$cp" "$out"); runs+=" curl-prequal=$out"
    out=$(curl_once "$n_url"); cn=$(max "$cn" "$out"); runs+=" curl-nginx=$out"
  done
  echo "   MiB/s:$runs" >&2
  [ $((wp_err + wn_err)) = 0 ] || echo "warning: wrk errors: prequal $wp_err, nginx $wn_err" >&2
  local wp_cell=$wp
  [ "$wp_err" = 0 ] || wp_cell="$wp ($wp_err errors)"
  [ "$wn_err" = 0 ] || wn="$wn ($wn_err errors)"

  results+=("| $backend | $ups | $thirds | $p50 | $p99 | $errs | $(awk "BEGIN{printf \"%.2f s (%.0f MiB/s)\", $secs, $large_bytes / 1048576 / $secs}") | $wp_cell | $wn | $(awk "BEGIN{printf \"%.2f\", $wp / ${wn%% *}}") | $cp | $cn | $(awk "BEGIN{printf \"%.2f\", $cp / $cn}") |")
  stop_all
  drop_db
}

run_backend sqlite
run_backend postgres

# --- report -------------------------------------------------------------------------------------
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/^MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
report=$(cat <<EOF
## Registry benchmark ($(date -u +%Y-%m-%d), \`benches/registry.sh${1:+ $1}\`)

prequal: $build.
Machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -sr); load average at start $load_at_start,
at end $(cut -d' ' -f1-3 /proc/loadavg) (above ~0.5 means other work shared the CPUs).
Server and load generators share the machine. \`prequal serve --workers $workers\`;
nginx $("$nginx_bin" -v 2>&1 | sed 's|.*/||') with \`worker_processes $workers\`, sendfile on.

- Uploads: $small_n distinct packages of $small_kb kB on average (the ndfeb-n42sh-baseline
  sample, $([ "${NAME_PER_UPLOAD:-0}" = 1 ] && echo "one name each" || echo "one version each"), signed), by \`benches/upload_load.py\` with $concurrency threads on
  keep-alive connections; every upload must be 201, anything else is an error.
  Latency percentiles are nearest-rank over all uploads.
- Download: one stored package of $(mib "$large_bytes") MiB, from
  \`GET /v1/packages/{digest}/download\` and from nginx serving the same blob file:
  \`wrk -t2 -c4 -d${wrk_secs}s\` (MiB/s of all bytes received) and single-stream \`curl\`,
  best of $rounds round(s), prequal and nginx alternating. Ratio = prequal / nginx.

| backend | uploads/s | uploads/s first → last third | p50 ms | p99 ms | upload errors | large upload (verify + store) | wrk prequal MiB/s | wrk nginx MiB/s | wrk ratio | curl prequal MiB/s | curl nginx MiB/s | curl ratio |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${results[@]}")
EOF
)
echo
echo "$report"
echo "$report" > "$root/benches/RESULTS-registry.md"
