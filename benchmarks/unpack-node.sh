#!/usr/bin/env bash
# Unpacking a Node image (node:18 of samples/images/build.sh: Debian's nodejs and npm, one layer of ~34k files) beside
# `tar -xzf` of the same layer into a fresh directory, and skopeo + umoci, interleaved rounds on a tmpfs: the issue's
# "within 1.1x tar -x". The layer is exported from a store that has node:18 (made once, kept in BENCH_DIR).
# Usage: benchmarks/unpack-node.sh [ROUNDS]   (as root; CLI=path/to/containers to use a published CLI)
set -euo pipefail
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH_DIR:-/var/tmp/containers-bench}
CLI="${CLI:-$BENCH/cli/containers}"
export DEBIAN_FRONTEND=noninteractive
command -v mmdebstrap >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends mmdebstrap; } # node:18 is made from Debian's packages
if [ ! -x "$CLI" ]; then dotnet publish "$HERE/samples/Cli" -c Release -o "$(dirname "$CLI")" >/dev/null; fi
ROOT="$BENCH/node-root"
"$HERE/samples/images/build.sh" "$CLI" "$ROOT" node
LAYER="$BENCH/node18-layer.tar.gz"
if [ ! -f "$LAYER" ]; then
  tmp=$(mktemp -d "$BENCH/node-save-XXXXXX")
  "$CLI" --root "$ROOT" save -o "$tmp/node.tar" docker.io/library/node:18
  tar -C "$tmp" -xf "$tmp/node.tar"
  layer=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json")); print(m[0]["Layers"][0])' "$tmp")
  if gzip -t "$tmp/$layer" 2>/dev/null; then cp "$tmp/$layer" "$LAYER.tmp"; else gzip -n -c "$tmp/$layer" > "$LAYER.tmp"; fi # -n: no name or time stamp (the blob's is out of gzip's range)
  mv "$LAYER.tmp" "$LAYER"; rm -rf "$tmp"
fi
LAYER="$LAYER" CLI="$CLI" exec "$HERE/benchmarks/pull-unpack.sh" "$ROUNDS"
