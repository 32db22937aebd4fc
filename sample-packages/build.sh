#!/usr/bin/env bash
# Rebuilds packages/*.zip from sources/ and signs them with the test keys, as listed in
# samples.json. Packing is reproducible, so a rebuild gives byte-identical files
# (tests/suite/sample_packages.rs checks that the committed zips match).
# Usage: sample-packages/build.sh [path/to/prequal]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prequal=${1:-$here/../target/debug/prequal}
cd "$here"
mkdir -p packages
python3 - "$prequal" <<'PY'
import json, subprocess, sys
prequal = sys.argv[1]
cat = json.load(open("samples.json"))
keys = {o["id"]: o["secret_key"] for o in cat["organisations"]}
for p in cat["packages"]:
    subprocess.run([prequal, "pack", p["source"], "--out", p["package"]], check=True, stdout=subprocess.DEVNULL)
    for signer in p["signers"]:
        subprocess.run([prequal, "sign", p["package"], "--key", keys[signer]], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([prequal, "verify", p["package"], "--trust", "keys/test-trust.json"], check=True)
PY
