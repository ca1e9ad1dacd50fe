#!/usr/bin/env bash
# The main demo: the course's three-service stack (frontend, backend API, database), each image built from its
# Dockerfile on a base image made locally from Debian packages, brought up by `containers compose` with no daemon
# and no registry. Prints the URLs, follows the logs, and takes everything down on Ctrl+C.
# Installs what it needs on a fresh Debian 12 machine. DEMO_SECONDS=N stops by itself after N seconds.
. "$(dirname "$0")/demo-common.sh"
stack="$here/samples/CourseStack/compose.yaml"
demo_cleanup() {
  echo; echo "== taking the stack down"
  [ -x "$cli" ] && c compose -f "$stack" down -v
}

publish_cli
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
