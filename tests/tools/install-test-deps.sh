#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine of this kind, and nothing when it is
# already there:
# - Debian's libpq-dev, which the PostgreSQL driver (pq-sys) links against;
# - Debian's chromium and chromium-driver, for the headless browser test (tests/suite/browser.rs);
# - a running PostgreSQL at 127.0.0.1:5432 for the tests that run on PostgreSQL (started with
#   pg_ctlcluster if it is installed but down; the tests fail loudly if it cannot be reached);
# - the outside validators that tests/suite/interop.rs runs: the Library of Congress BagIt tool, the
#   RO-Crate validator (roc-validator) and the `rocrate` package, whose RO-Crate JSON-LD context
#   tests/tools/rocrate_validate_offline.py serves so that validation needs no network;
# - SeaweedFS, the S3-compatible server of the object-storage tests (tests/tools/install-s3.sh).
set -euo pipefail

if ! dpkg -s libpq-dev >/dev/null 2>&1; then
    echo "install-test-deps: installing libpq-dev"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpq-dev >/dev/null
fi

if ! dpkg -s chromium >/dev/null 2>&1 || ! dpkg -s chromium-driver >/dev/null 2>&1; then
    echo "install-test-deps: installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# deploy/ is checked with the tools that consume it: docker-compose (its file validation only;
# no Docker engine runs here), nginx (the reverse-proxy configuration, run for real) and
# rclone (the backup script's object-store copy).
for pkg in docker-compose nginx rclone; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        echo "install-test-deps: installing $pkg"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
    fi
done

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "install-test-deps: starting PostgreSQL"
    for version in /etc/postgresql/*; do
        pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

bash "$(dirname "$0")/install-s3.sh"

PYTHON="${PYTHON:-python3}"
PINS=(bagit==1.9.0 roc-validator==0.13.0 rocrate==0.16.0)

# Prints the pins that are not installed at the pinned version (or whose module is missing).
missing_pins() {
    "$PYTHON" - "${PINS[@]}" <<'EOF'
import importlib.metadata as md
import importlib.util
import sys

modules = {"bagit": "bagit", "roc-validator": "rocrate_validator", "rocrate": "rocrate"}
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = None
    if have != want or importlib.util.find_spec(modules[name]) is None:
        print(pin)
EOF
}

bash "$(dirname "$0")/install-schemathesis.sh"
missing="$(missing_pins)"
if [ -z "$missing" ]; then
    echo "install-test-deps: ${PINS[*]} already installed"
    exit 0
fi
# (Everything above this point must stay before the early exit.)

echo "install-test-deps: installing ${PINS[*]}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# A Debian system Python is "externally managed" (PEP 668); CI installs into it on purpose.
if "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    export PIP_BREAK_SYSTEM_PACKAGES=1
fi
# All pins in one resolve, so their shared dependencies stay consistent.
"$PYTHON" -m pip install --quiet "${PINS[@]}"

missing="$(missing_pins)"
if [ -n "$missing" ]; then
    echo "install-test-deps: still missing after pip install: $missing" >&2
    exit 1
fi
"$PYTHON" -c 'import bagit, rocrate, rocrate_validator.cli.main'
echo "install-test-deps: done"
