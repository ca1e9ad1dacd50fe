# Sourced by the course demos (demo.sh, demo-cluster.sh): installs what they need on a fresh Debian 12 machine, then
# sets $here (the repository), $work (a scratch directory), $root (the store: CONTAINERS_ROOT, else
# /var/lib/containers-dotnet-demo), $cli and c (the CLI over that store; CONTAINERS_CLI=PATH uses a published one), defines
# publish_cli and course_base, and on
# exit calls the demo's demo_cleanup, then removes the default bridge and the cgroup
# parents if the demo made them, then the scratch directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

# On exit: the demo's own clean-up (its function demo_cleanup), then the scratch directory and the host leftovers.
on_exit() {
  trap - EXIT INT TERM
  demo_cleanup || true
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
