#!/usr/bin/env bash
# Backs up a prequal registry into a new directory:
#   deploy/backup.sh OUT_DIR
# Configuration comes from the same environment as `prequal serve`:
#   PREQUAL_DB     postgres://… (dumped with pg_dump) or sqlite://FILE (copied with SQLite's
#                  online backup); default sqlite://$PREQUAL_DATA/prequal.db
#   PREQUAL_DATA   the data directory (package files under blobs/, the log key)
#   PREQUAL_URL    optional: the running registry; its signed checkpoint and log verifier key are
#                  saved so a restore can prove it holds (at least) that log
#   PREQUAL_BLOB_STORE, PREQUAL_S3_ENDPOINT, PREQUAL_S3_REGION, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY
#                  with an S3-compatible object store (s3://BUCKET/PREFIX), its objects are
#                  copied with rclone (https://rclone.org, Debian package `rclone`)
# Order matters: the checkpoint first, then the database (one consistent snapshot), then the
# package files (a superset of what the snapshot references; extra files are swept later).
# The backup holds the log's signing key: store it as you store the registry's secrets.
set -euo pipefail

out="${1:?usage: backup.sh OUT_DIR}"
data="${PREQUAL_DATA:-prequal-data}"
db="${PREQUAL_DB:-sqlite://$data/prequal.db}"

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
    echo "backup: $out exists and is not empty; refusing to mix backups" >&2
    exit 2
fi
mkdir -p "$out"
chmod 0700 "$out"
step() { echo "backup: $*" >&2; }
# shellcheck source=deploy/objects.sh
. "$(dirname "$0")/objects.sh"
if objects_configured; then objects_setup; fi

if [ -n "${PREQUAL_URL:-}" ]; then
    step "checkpoint of ${PREQUAL_URL}"
    curl -fsS "$PREQUAL_URL/log/checkpoint" -o "$out/checkpoint.txt"
    curl -fsS "$PREQUAL_URL/log/key" -o "$out/log-verifier.txt"
fi

case "$db" in
    postgres://* | postgresql://*)
        step "database (pg_dump)"
        pg_dump --format=custom --no-owner --no-privileges --file "$out/database.pgdump" "$db"
        ;;
    sqlite://*)
        file="${db#sqlite://}"
        step "database (SQLite online backup of $file)"
        python3 - "$file" "$out/prequal.db" <<'PY'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()
PY
        ;;
    *)
        echo "backup: PREQUAL_DB must be postgres://… or sqlite://…" >&2
        exit 2
        ;;
esac

mkdir -p "$out/blobs"
if objects_configured; then
    step "package files (objects under $PREQUAL_BLOB_STORE, rclone)"
    rclone copy "$OBJECTS_REMOTE" "$out/blobs"
elif [ -d "$data/blobs" ]; then
    step "package files"
    cp -a "$data/blobs/." "$out/blobs/"
fi
if [ -f "$data/log-key.json" ]; then
    install -m 0600 "$data/log-key.json" "$out/log-key.json"
fi

(cd "$out" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
step "done: $(find "$out/blobs" -type f | wc -l) package file(s), $(du -sh "$out" | cut -f1) in $out"
