#!/usr/bin/env bash
# The dashboard end to end in Debian's headless Chromium: a container's state change to the page showing it, and the
# load times of the home page with 200 containers and of the cluster pages with 1,000 pods (a recording pod runtime:
# the pods are the API's, not processes). Needs: apt-get install -y chromium busybox-static.
# Usage: benchmarks/dashboard-latency.sh [containers=200] [pods=1000] [rounds=15]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dotnet run -c Release --project "$here/DashboardLatency/DashboardLatency.csproj" -- "$@"
