#!/usr/bin/env python3
"""Writes a package source directory of about SIZE_MIB MiB for the verify benchmark.

The payload is what large packages really carry: raw instrument exports (hysteresigraph
sweeps as numeric text) next to a small dataset. Each export is a rotation of one pseudo-random
block, so writing 1 GiB takes seconds while deflate still sees realistic, varied text.
Usage: make_large_package.py OUT_DIR [SIZE_MIB]
"""
import json
import os
import random
import sys

out = sys.argv[1]
size_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
files = max(1, size_mib // 16)
rng = random.Random(20261122)

lines = []
total = 0
while total < 16 * 1024 * 1024:
    h = rng.uniform(-2500.0, 2500.0)
    line = f"{rng.uniform(0, 3600):.3f},{h:.2f},{rng.gauss(1.3, 0.2):.5f},{rng.gauss(0.9, 0.3):.5f},{rng.uniform(19.5, 20.5):.2f}\n"
    lines.append(line)
    total += len(line)
block = "".join(lines).encode()

source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sample-packages", "sources", "ndfeb-n42sh-baseline")
manifest = json.load(open(os.path.join(source, "prequal.json")))
os.makedirs(os.path.join(out, "datasets"), exist_ok=True)
os.makedirs(os.path.join(out, "raw"), exist_ok=True)
manifest["name"] = "benchmark-large-package"
manifest["attachments"] = []
# The sample's datasets and demagnetisation curves, as they are.
for entry in manifest["datasets"] + manifest.get("curves", []):
    os.makedirs(os.path.dirname(os.path.join(out, entry["file"])), exist_ok=True)
    with open(os.path.join(source, entry["file"]), "rb") as src, open(os.path.join(out, entry["file"]), "wb") as dst:
        dst.write(src.read())
for i in range(files):
    name = f"raw/sweep-{i:04d}.csv"
    cut = (i * 7919 * 64) % len(block)
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"time_s,H_kA_per_m,B_T,J_T,temperature_C\n")
        f.write(block[cut:])
        f.write(block[:cut])
    manifest["attachments"].append({"file": name, "description": f"raw hysteresigraph export {i}", "media_type": "text/csv"})
with open(os.path.join(out, "prequal.json"), "w") as f:
    json.dump(manifest, f, indent=2, ensure_ascii=False)
    f.write("\n")
