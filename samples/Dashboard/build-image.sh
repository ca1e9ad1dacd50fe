#!/usr/bin/env bash
# Builds the dashboard's image (containers-dashboard:TAG) into a store with our own builder, as the course builds
# Portainer's: the NativeAOT CLI (dotnet publish) on a Debian minbase with libssl3 and ca-certificates (mmdebstrap, from
# Debian's archive). Usage: samples/Dashboard/build-image.sh [TAG] (CONTAINERS_ROOT picks the store; CONTAINERS_CLI a
# CLI published before). Then: containers helm install dashboard samples/Dashboard/chart/containers-dashboard
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tag="${1:-1.0.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v mmdebstrap >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends mmdebstrap; }
cli="${CONTAINERS_CLI:-}"
if [ -z "$cli" ]; then
  echo "== publishing the containers CLI (NativeAOT)"
  dotnet publish "$repo/samples/Cli/Cli.csproj" -c Release -o "$work/cli" >/dev/null
  cli="$work/cli/containers"
fi
mkdir -p "$work/context"
# the image runs the full CLI (containers-cli: the dashboard is one of its verbs) as /usr/local/bin/containers
cp "$(dirname "$cli")/containers-cli" "$work/context/containers"
cp "$here/Dockerfile" "$work/context/Dockerfile"
if ! "$cli" image inspect localhost/dashboard-base:bookworm >/dev/null 2>&1; then
  echo "== making the base (mmdebstrap bookworm minbase, libssl3, ca-certificates)"
  mmdebstrap --variant=minbase --mode=root --format=tar --quiet --include=libssl3,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/base.tar"
  "$cli" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$work/base.tar" localhost/dashboard-base:bookworm >/dev/null
fi
echo "== building containers-dashboard:$tag"
"$cli" build -t "containers-dashboard:$tag" "$work/context"
