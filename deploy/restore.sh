#!/usr/bin/env bash
# Restores a backup written by deploy/backup.sh into an EMPTY database and data directory, then
# re-verifies everything:
#   deploy/restore.sh BACKUP_DIR
# Environment as for `prequal serve` (PREQUAL_DB, PREQUAL_DATA) and PREQUAL_BIN (default:
# `prequal` on the PATH). Refuses a database that already has prequal's tables or a data
# directory that already holds package files. Exit status 0 only if `prequal admin check`
# finds every package and the log intact and, when the backup holds a checkpoint, the restored
# log extends it.
set -euo pipefail

backup="${1:?usage: restore.sh BACKUP_DIR}"
data="${PREQUAL_DATA:-prequal-data}"
db="${PREQUAL_DB:-sqlite://$data/prequal.db}"
prequal="${PREQUAL_BIN:-prequal}"
step() { echo "restore: $*" >&2; }
# shellcheck source=deploy/objects.sh
. "$(dirname "$0")/objects.sh"
if objects_configured; then objects_setup; fi

step "checking the backup's own checksums"
(cd "$backup" && sha256sum --quiet -c SHA256SUMS)

if [ -d "$data/blobs" ] && [ -n "$(ls -A "$data/blobs" 2>/dev/null)" ]; then
    echo "restore: $data/blobs is not empty; restore into a fresh data directory" >&2
    exit 2
fi
if objects_configured && [ -n "$(rclone lsf -R --files-only "$OBJECTS_REMOTE" 2>/dev/null | head -n 1 || true)" ]; then
    echo "restore: $PREQUAL_BLOB_STORE is not empty; restore into an empty bucket or prefix" >&2
    exit 2
fi
mkdir -p "$data"

case "$db" in
    postgres://* | postgresql://*)
        if [ "$(psql "$db" -tAc "select count(*) from information_schema.tables where table_name = 'packages'")" != "0" ]; then
            echo "restore: the database already has prequal's tables; restore into an empty database" >&2
            exit 2
        fi
        step "database (pg_restore)"
        pg_restore --no-owner --no-privileges --single-transaction --exit-on-error --dbname "$db" "$backup/database.pgdump"
        ;;
    sqlite://*)
        file="${db#sqlite://}"
        if [ -e "$file" ]; then
            echo "restore: $file exists; restore into a fresh data directory" >&2
            exit 2
        fi
        step "database (SQLite file $file)"
        mkdir -p "$(dirname "$file")"
        cp "$backup/prequal.db" "$file"
        ;;
    *)
        echo "restore: PREQUAL_DB must be postgres://… or sqlite://…" >&2
        exit 2
        ;;
esac

if objects_configured; then
    step "package files (objects to $PREQUAL_BLOB_STORE, rclone)"
    rclone copy "$backup/blobs" "$OBJECTS_REMOTE"
else
    step "package files"
    mkdir -p "$data/blobs"
    cp -a "$backup/blobs/." "$data/blobs/"
fi
if [ -f "$backup/log-key.json" ]; then
    install -m 0600 "$backup/log-key.json" "$data/log-key.json"
fi

step "verifying every package and the log"
check=(admin --db "$db" --data "$data" check)
if [ -f "$backup/checkpoint.txt" ]; then
    check+=(--checkpoint "$backup/checkpoint.txt" --log-verifier "$backup/log-verifier.txt")
fi
"$prequal" "${check[@]}"
step "done"
