#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into a virtual environment of its own, and nothing when
# the pinned version is already there. tests/suite/api_conformance.rs runs it against a live registry.
# Its own environment keeps its dependencies (hypothesis, jsonschema, click, …) from disturbing
# the validators that install-test-deps.sh puts into the system Python, and theirs from it.
#
# SCHEMATHESIS_HOME: where the environment lives (default ~/.cache/prequal/schemathesis); the
# test reads the same variable. PYTHON: the interpreter that creates it (default python3).
set -euo pipefail

VERSION=4.32.5
PYTHON="${PYTHON:-python3}"
HOME_DIR="${SCHEMATHESIS_HOME:-${HOME}/.cache/prequal/schemathesis}"
ST="$HOME_DIR/bin/st"

installed_version() {
    "$HOME_DIR/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true
}

if [ -x "$ST" ] && [ "$(installed_version)" = "$VERSION" ]; then
    echo "install-schemathesis: schemathesis $VERSION already installed in $HOME_DIR"
    exit 0
fi

echo "install-schemathesis: installing schemathesis $VERSION into $HOME_DIR"
rm -rf "$HOME_DIR"
mkdir -p "$(dirname "$HOME_DIR")"
"$PYTHON" -m venv "$HOME_DIR"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
"$HOME_DIR/bin/python" -m pip install --quiet "schemathesis==$VERSION"
if [ "$(installed_version)" != "$VERSION" ] || ! "$ST" --version >/dev/null; then
    echo "install-schemathesis: schemathesis $VERSION did not install into $HOME_DIR" >&2
    exit 1
fi
echo "install-schemathesis: done ($("$ST" --version))"
