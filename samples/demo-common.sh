# Sourced by the course demos (demo.sh, demo-cluster.sh): installs what they need on a fresh Debian 12 machine, then
# sets $here (the repository), $work (a scratch directory), $root (the store: CONTAINERS_ROOT, else
# /var/lib/containers-dotnet-demo), $cli and c (the CLI over that store; CONTAINERS_CLI=PATH uses a published one), defines
# publish_cli, docker_io_mirror and course_base; on exit it calls the demo's demo_cleanup, stops the mirror, then removes
# the default bridge and the cgroup parents if the demo made them, then the scratch directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v curl >/dev/null || need+=(curl)
command -v ip >/dev/null || need+=(iproute2)
[ -x /usr/sbin/iptables ] || need+=(iptables)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v npm >/dev/null || need+=(nodejs npm) # the CLI's dashboard embeds front-end libraries from npm at build time
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  made_policy=0; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi # docker-registry's service stays off
  apt-get install -y -q --no-install-recommends "${need[@]}"
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

work=$(mktemp -d /tmp/containers-demo-XXXXXX)
root=${CONTAINERS_ROOT:-/var/lib/containers-dotnet-demo}
cli="$work/cli/containers"
c() { "$cli" --root "$root" "$@"; }
had_bridge=$([ -e /sys/class/net/cdnet0 ] && echo 1 || echo 0)
had_cgroups=$(compgen -G '/sys/fs/cgroup/*/containers-dotnet' >/dev/null && echo 1 || echo 0)

publish_cli() {
  if [ -n "${CONTAINERS_CLI:-}" ]; then # a CLI published before: no second publish
    mkdir -p "$work/cli" && ln -s "$(readlink -f "$CONTAINERS_CLI")" "$cli"
    return
  fi
  echo "== publishing the containers CLI (NativeAOT)"
  dotnet publish "$here/samples/Cli/Cli.csproj" -c Release -o "$work/cli" >/dev/null
}

# The default bridge (the builds' RUN steps use it; with its NAT rules, through the CLI) and the containers-dotnet cgroup
# parents go if the demo made them.
remove_host_leftovers() {
  if [ "$had_bridge" = 0 ] && [ -x "$cli" ]; then "$cli" --root "$root" network prune -f --default-bridge >/dev/null 2>&1 || true; fi # with its NAT rules
  if [ "$had_cgroups" = 0 ]; then
    for h in /sys/fs/cgroup/*/containers-dotnet; do [ -d "$h" ] && rmdir "$h" 2>/dev/null || true; done
  fi
}

# The base images as users get them: samples/images/build.sh makes node:18, nginx:latest and postgres:15 from Debian's
# packages in a builder store ($root-images, cached) and pushes them to Debian's docker-registry on 127.0.0.1, which
# serves as docker.io's mirror (a registries.conf in CONTAINERS_REGISTRIES_CONF, as in containers/image); the demo's
# store pulls `node:18` and `postgres:15` from docker.io, through that mirror. Its data is kept in $root-registry.
registry_pid=
docker_io_mirror() {
  local port=5117
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done # the first free port from 5117
  mkdir -p "$root-registry"
  printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' "$root-registry" "$port" > "$work/registry.yml"
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
  printf '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$port" > "$work/registries.conf"
  export CONTAINERS_REGISTRIES_CONF="$work/registries.conf"
  echo "== the base images from Debian's packages (node:18, nginx:latest, postgres:15; built in $root-images), on docker.io's mirror 127.0.0.1:$port"
  PUSH="127.0.0.1:$port" "$here/samples/images/build.sh" "$cli" "$root-images"
}

# On exit: the demo's own clean-up (its function demo_cleanup), the mirror, then the scratch directory and the host leftovers.
on_exit() {
  trap - EXIT INT TERM
  demo_cleanup || true
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  remove_host_leftovers
  rm -rf "$work"
}
trap on_exit EXIT
trap 'exit 0' INT TERM

# The course's base image, localhost/course-base:1, unless the store has it: busybox-static, libc6, base-files and
# netbase extracted from Debian's archive by mmdebstrap, one Dockerfile step installing busybox's applets; with no
# archive, the same files from the installed packages.
course_base() {
  echo "== the base image: busybox-static, libc6, base-files and netbase from Debian's archive (mmdebstrap; cached in $root)"
  if ! c images -q localhost/course-base:1 2>/dev/null | grep -q . && command -v mmdebstrap >/dev/null; then
    mmdebstrap --variant=extract --include=busybox-static,libc6,base-files,netbase --mode=root --format=tar --quiet bookworm - \
      | c import - localhost/course-debian:bookworm
    mkdir -p "$work/base-context"
    cat > "$work/base-context/Dockerfile" <<'DOCKERFILE'
FROM localhost/course-debian:bookworm
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && printf 'hosts: files dns\\n' > /etc/nsswitch.conf && printf 'root:x:0:0:root:/root:/bin/sh\\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\\n' > /etc/passwd && printf 'root:x:0:\\nnogroup:x:65534:\\n' > /etc/group && mkdir -p /tmp /root /usr/local/bin && chmod 1777 /tmp"]
ENV PATH=/usr/local/bin:/usr/bin:/bin
CMD ["/bin/sh"]
DOCKERFILE
    c build -t localhost/course-base:1 "$work/base-context"
  fi
  if ! c images -q localhost/course-base:1 2>/dev/null | grep -q .; then   # no archive: the same files from the installed packages
    base="$work/base"
    mkdir -p "$base/bin" "$base/etc" "$base/tmp" "$base/root" "$base/usr/local/bin" "$base/lib/x86_64-linux-gnu" "$base/lib64"
    cp /bin/busybox "$base/bin/"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$base/bin/$a"; done
    cp /lib/x86_64-linux-gnu/{libc.so.6,libnss_dns.so.2,libnss_files.so.2,libresolv.so.2} "$base/lib/x86_64-linux-gnu/"
    cp /lib64/ld-linux-x86-64.so.2 "$base/lib64/"
    echo 'hosts: files dns' > "$base/etc/nsswitch.conf"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$base/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$base/etc/group"
    chmod 1777 "$base/tmp"
    tar -C "$base" -c . | c import -c 'ENV PATH=/usr/local/bin:/bin' -c 'CMD ["/bin/sh"]' - localhost/course-base:1
  fi
}
