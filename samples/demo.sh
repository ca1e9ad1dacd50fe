#!/usr/bin/env bash
# The main demo: the course's stack for real (samples/CourseApp): an nginx frontend that serves the shop page and
# proxies /api to a Node/Express backend, which keeps orders in Postgres. The base images node:18, nginx:latest and
# postgres:15 are made from Debian's packages (samples/images/build.sh) and pulled from docker.io through a local
# registry serving as its mirror; the backend's image runs `npm install` from its lockfile, and `containers compose`
# brings the stack up healthy with no daemon.
# Prints the first-run and warm times to healthy and the URLs, follows the logs, and takes everything down on Ctrl+C.
# Installs what it needs on a fresh Debian 12 machine. DEMO_SECONDS=N stops by itself after N seconds.
. "$(dirname "$0")/demo-common.sh"
app="$work/CourseApp"
cp -r "$here/samples/CourseApp" "$app"; rm -rf "$app/postgres-data"
stack="$app/compose.yaml"
demo_cleanup() {
  echo; echo "== taking the stack down"
  [ -x "$cli" ] && c compose -f "$stack" down
}

publish_cli
docker_io_mirror

echo "== building and starting the stack (first run)"
t0=$(date +%s%N)
c compose -f "$stack" up -d --build --wait
t1=$(date +%s%N)
c compose -f "$stack" down >/dev/null
echo "== again, warm (images cached, the database initialised on its bind volume)"
t2=$(date +%s%N)
c compose -f "$stack" up -d --wait >/dev/null
t3=$(date +%s%N)
seconds() { local ms=$(( ($2 - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100)); }
curl -s -X POST -H 'Content-Type: application/json' -d '{"item": "first order"}' "http://127.0.0.1:8080/api/orders" >/dev/null
cat <<MSG

  to healthy: first run $(seconds "$t0" "$t1") s (with the backend's npm install), warm $(seconds "$t2" "$t3") s

  frontend   http://127.0.0.1:8080/            (the shop page; /api goes to the backend by service name)
  backend    http://127.0.0.1:3000/api/orders  (JSON; POST {"item": ...} to add one)
  database   Postgres 15 in course-database, its data in $app/postgres-data

  orders now: $(curl -s "http://127.0.0.1:8080/api/orders")

== following the logs (Ctrl+C takes everything down)
MSG
if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout "$DEMO_SECONDS" "$cli" --root "$root" compose -f "$stack" logs -f || true
else
  c compose -f "$stack" logs -f || true
fi
