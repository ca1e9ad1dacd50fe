#!/usr/bin/env bash
# The main demo: the course's three-service stack (frontend, backend API, database), each image built from its
# Dockerfile on a base image made locally from Debian packages, brought up by `containers compose` with no daemon
# and no registry. Prints the URLs, follows the logs, and takes everything down on Ctrl+C.
# Installs what it needs on a fresh Debian 12 machine. DEMO_SECONDS=N stops by itself after N seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v curl >/dev/null || need+=(curl)
command -v ip >/dev/null || need+=(iproute2)
[ -x /usr/sbin/iptables ] || need+=(iptables)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; fi

work=$(mktemp -d /tmp/containers-demo-XXXXXX)
root=${CONTAINERS_ROOT:-/var/lib/containers-dotnet-demo}
stack="$here/samples/CourseStack/compose.yaml"
cli="$work/cli/containers"
c() { "$cli" --root "$root" "$@"; }
had_bridge=$([ -e /sys/class/net/cdnet0 ] && echo 1 || echo 0)
cleanup() {
  trap - EXIT INT TERM
  echo; echo "== taking the stack down"
  [ -x "$cli" ] && c compose -f "$stack" down -v || true
  rm -rf "$work"
  # the default bridge (the builds' RUN steps use it) goes if the demo made it
  if [ "$had_bridge" = 0 ] && [ -e /sys/class/net/cdnet0 ]; then ip link del cdnet0; fi
}
trap cleanup EXIT
trap 'exit 0' INT TERM

echo "== publishing the containers CLI (NativeAOT)"
dotnet publish "$here/samples/Cli/Cli.csproj" -c Release -o "$work/cli" >/dev/null

. "$here/samples/course-base.sh"
course_base

echo "== building and starting the stack"
c compose -f "$stack" up -d --build --wait
front=$(c compose -f "$stack" port frontend 8080)
back=$(c compose -f "$stack" port backend 3000)
curl -s -X POST --data 'first order' "http://$back/cgi-bin/orders" >/dev/null
cat <<MSG

  frontend   http://$front/                  (the shop page; it calls the backend by service name)
  backend    http://$back/cgi-bin/orders    (JSON; POST an item to add one)
  health     http://$back/cgi-bin/health

  orders now: $(curl -s "http://$front/cgi-bin/orders")

== following the logs (Ctrl+C takes everything down)
MSG
if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout "$DEMO_SECONDS" "$cli" --root "$root" compose -f "$stack" logs -f || true
else
  c compose -f "$stack" logs -f || true
fi
