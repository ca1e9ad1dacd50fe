#!/usr/bin/env bash
# Base images with the behaviour the official images document, made here from Debian 12's packages (mmdebstrap from
# Debian's archive; no Docker Hub): docker.io/library/node:18 (Debian's nodejs 18 and npm), nginx:latest and
# postgres:15, imported into a store as those names, so `FROM node:18` and `image: postgres:15` find them.
# Certificate authorities the machine added under /usr/local/share/ca-certificates go into node:18 (npm needs them
# behind a TLS-inspecting proxy). Usage: samples/images/build.sh CLI ROOT [node nginx postgres]   (as root; each image
# is skipped when ROOT has it)
#   PUSH=HOST:PORT  also pushes each to that registry (for example a local docker-registry serving as the docker.io mirror)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cli=$1 root=$2; shift 2
[ $# -gt 0 ] || set -- node nginx postgres
c() { "$cli" --root "$root" "$@"; }
# mmdebstrap's options shared by every image: the smallest Debian that has apt, no recommends, apt's lists dropped
debian() {
  mmdebstrap --variant=minbase --mode=root --format=tar --quiet --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' "$@" bookworm -
}
push() { if [ -n "${PUSH:-}" ]; then c tag "$1" "$PUSH/${1#docker.io/}" && c push "$PUSH/${1#docker.io/}" >/dev/null 2>&1 && c rmi "$PUSH/${1#docker.io/}" >/dev/null; fi; }
have() { [ -n "$(c images -q "$1" 2>/dev/null)" ] && push "$1"; } # made before: pushed again (the registry answers "exists" per blob)
made() { echo "== $1: $(( $(date +%s) - $2 )) s"; push "$1"; }

for image in "$@"; do
  start=$(date +%s)
  case "$image" in
    node)
      name=docker.io/library/node:18
      have "$name" && continue
      echo "== $name: Debian's nodejs and npm"
      # the certificate authorities this machine added (a TLS-inspecting proxy's, say) go in too, or npm install fails
      debian --include=nodejs,npm,ca-certificates \
        --customize-hook='chroot "$1" useradd --create-home --uid 1000 --shell /bin/bash node' \
        --customize-hook='if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then cp /usr/local/share/ca-certificates/*.crt "$1"/usr/local/share/ca-certificates/ && chroot "$1" update-ca-certificates >/dev/null; fi' \
        | c import -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' -c 'CMD ["node"]' - "$name" >/dev/null
      ;;
    nginx)
      name=docker.io/library/nginx:latest
      have "$name" && continue
      echo "== $name: Debian's nginx, configured as the official image"
      debian --include=nginx \
        --customize-hook='rm -f "$1"/etc/nginx/sites-enabled/default; mkdir -p "$1"/usr/share/nginx/html "$1"/etc/nginx/conf.d' \
        --customize-hook="cp '$here/nginx/default.conf' \"\$1\"/etc/nginx/conf.d/default.conf; cp '$here/nginx/index.html' \"\$1\"/usr/share/nginx/html/index.html" \
        --customize-hook='ln -sf /dev/stdout "$1"/var/log/nginx/access.log; ln -sf /dev/stderr "$1"/var/log/nginx/error.log' \
        | c import -c 'EXPOSE 80' -c 'STOPSIGNAL SIGQUIT' -c 'CMD ["nginx", "-g", "daemon off;"]' - "$name" >/dev/null
      ;;
    postgres)
      name=docker.io/library/postgres:15
      have "$name" && continue
      echo "== $name: Debian's postgresql-15 behind our docker-entrypoint.sh"
      debian --include=postgresql-15 \
        --customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15; mkdir -p "$1"/docker-entrypoint-initdb.d "$1"/var/lib/postgresql/data "$1"/var/run/postgresql; chroot "$1" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql; chmod 2775 "$1"/var/run/postgresql' \
        --customize-hook="cp '$here/postgres/docker-entrypoint.sh' \"\$1\"/usr/local/bin/docker-entrypoint.sh" \
        | c import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            -c 'ENV PG_MAJOR=15' -c 'ENV PGDATA=/var/lib/postgresql/data' -c 'VOLUME /var/lib/postgresql/data' \
            -c 'ENTRYPOINT ["docker-entrypoint.sh"]' -c 'STOPSIGNAL SIGINT' -c 'EXPOSE 5432' -c 'CMD ["postgres"]' - "$name" >/dev/null
      ;;
    *) echo "unknown image $image (node, nginx, postgres)" >&2; exit 2 ;;
  esac
  made "$name" "$start"
done
