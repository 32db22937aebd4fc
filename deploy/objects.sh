# Sourced by backup.sh and restore.sh: the registry's object store as an rclone remote, from
# the same environment `prequal serve` reads (PREQUAL_BLOB_STORE=s3://BUCKET[/PREFIX],
# PREQUAL_S3_ENDPOINT, PREQUAL_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). The remote
# is configured through rclone's environment variables only: no rclone.conf is written.

objects_configured() {
    case "${PREQUAL_BLOB_STORE:-file}" in
        s3://*) return 0 ;;
        *) return 1 ;;
    esac
}

# Configures the remote in this shell's environment and sets OBJECTS_REMOTE to the rclone path
# of the store's objects (`pqobjects:BUCKET/PREFIX`). Call it in the script itself, not
# in a $(…) subshell, so the exports reach rclone.
objects_setup() {
    command -v rclone >/dev/null || { echo "objects: rclone is required for an s3:// blob store" >&2; exit 2; }
    export RCLONE_CONFIG_PQOBJECTS_TYPE=s3
    export RCLONE_CONFIG_PQOBJECTS_PROVIDER=Other
    export RCLONE_CONFIG_PQOBJECTS_ENV_AUTH=false
    export RCLONE_CONFIG_PQOBJECTS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-}"
    export RCLONE_CONFIG_PQOBJECTS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-}"
    export RCLONE_CONFIG_PQOBJECTS_REGION="${PREQUAL_S3_REGION:-us-east-1}"
    export RCLONE_CONFIG_PQOBJECTS_FORCE_PATH_STYLE=true
    # rclone's S3 client cannot load AWS_CA_BUNDLE itself (LoadCustomCABundleError); hand the
    # same bundle to rclone's own transport instead.
    if [ -n "${AWS_CA_BUNDLE:-}" ]; then
        export RCLONE_CA_CERT="$AWS_CA_BUNDLE"
        unset AWS_CA_BUNDLE
    fi
    if [ -n "${PREQUAL_S3_ENDPOINT:-}" ]; then
        export RCLONE_CONFIG_PQOBJECTS_ENDPOINT="$PREQUAL_S3_ENDPOINT"
    fi
    local location="${PREQUAL_BLOB_STORE#s3://}"
    OBJECTS_REMOTE="pqobjects:${location%/}"
}
