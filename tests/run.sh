#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian 12 machine (root, with only the .NET SDK),
# then runs every test (`dotnet test Containers.sln`). Extra arguments go to dotnet test (for example --filter ...).
# .ci/run calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
need=()
[ -x /bin/busybox ] || need+=(busybox-static)   # the tests' container rootfs
command -v ip >/dev/null || need+=(iproute2)     # the test run removes its bridge with it
command -v gcc >/dev/null || need+=(gcc)         # links the NativeAOT shim
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)
dpkg -s libc6-dev >/dev/null 2>&1 || need+=(libc6-dev) # libc.a: containers-init and the escape suite's probe are linked statically
command -v docker-registry >/dev/null || need+=(docker-registry) # the distribution server the image tests push to
command -v skopeo >/dev/null || need+=(skopeo)   # interop cross-checks
command -v umoci >/dev/null || need+=(umoci)
command -v htpasswd >/dev/null || need+=(apache2-utils) # the auth registry's bcrypt htpasswd
command -v openssl >/dev/null || need+=(openssl) # the auth registry's self-signed certificate
command -v tar >/dev/null || need+=(tar)
command -v zstd >/dev/null || need+=(zstd)     # makes the zstd layer of a test
command -v bzip2 >/dev/null || need+=(bzip2)   # makes the archives ADD unpacks in a test
command -v xz >/dev/null || need+=(xz-utils)
command -v podman >/dev/null || need+=(podman) # save/load interop
command -v runc >/dev/null || need+=(runc)     # podman's runtime in the tests (crun 1.8 refuses the cgroup hybrid)
command -v buildah >/dev/null || need+=(buildah) # builds the same Dockerfile for the interop test
[ -x /usr/sbin/iptables ] || need+=(iptables)    # NAT out of the bridges, forwarding rules, DNAT of published ports; iptables-restore in pods for NetworkPolicies
command -v nsenter >/dev/null || need+=(util-linux) # NetworkPolicies are written into each pod's network namespace
command -v mmdebstrap >/dev/null || need+=(mmdebstrap) # base images from Debian's archive
command -v go >/dev/null || need+=(golang-go) # builds the Helm tests' reference renderer (Go's text/template)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || need+=(golang-github-masterminds-sprig-dev) # Sprig, for the reference renderer
[ -d /usr/share/gocode/src/sigs.k8s.io/yaml ] || need+=(golang-k8s-sigs-yaml-dev) # Helm's toYaml, for the reference renderer
command -v etcd >/dev/null || need+=(etcd-server) # the etcd store's conformance tests and the multi-machine cluster
command -v etcdctl >/dev/null || need+=(etcd-client) # the migration test reads the keys back with etcdctl
command -v curl >/dev/null || need+=(curl)
command -v newuidmap >/dev/null || need+=(uidmap) # rootless: the user's subordinate ids mapped by the setuid helpers
command -v slirp4netns >/dev/null || need+=(slirp4netns) # rootless networking
[ -e /usr/share/zoneinfo/Europe/Berlin ] || need+=(tzdata) # CronJob time zones
command -v docker-compose >/dev/null || need+=(docker-compose) # compose v1 (Python) against the Docker API
/usr/bin/python3 -c 'import docker' 2>/dev/null || need+=(python3-docker) # the Docker SDK for Python against the Docker API
command -v npm >/dev/null || need+=(nodejs npm) # the dashboard's front-end libraries (npm ci at build time); @devcontainers/cli
[ -x /usr/lib/chromium/chromium ] || need+=(chromium) # the dashboard's browser tests (headless, driven by PuppeteerSharp)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs) # the filesystem on replicated volumes (mkfs.ext4, e2fsck, resize2fs)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core) # readable text in the screenshots the browser tests save
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need[*]}" >&2
  apt-get update -q
  # docker-registry's package would start a registry on :5000 on every interface: keep services from starting
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
  trap '[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${need[@]}"
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; made_policy=0; fi
fi
# the rootless tests run the CLI as an ordinary user of their own, with subordinate ids (65536 of each)
if ! id -u containers-rootless >/dev/null 2>&1; then
  useradd --system --create-home --home-dir /var/lib/containers-rootless --shell /usr/sbin/nologin containers-rootless
fi
grep -q '^containers-rootless:' /etc/subuid 2>/dev/null || echo 'containers-rootless:3000000:65536' >> /etc/subuid
grep -q '^containers-rootless:' /etc/subgid 2>/dev/null || echo 'containers-rootless:3000000:65536' >> /etc/subgid
# slirp4netns opens /dev/net/tun as that user: Debian's udev makes it 0666, a machine without udev may leave it 0600
[ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ] && chmod 0666 /dev/net/tun
# the Dev Containers tests run the reference implementation, @devcontainers/cli from npm, against our Docker API
# (it needs Node.js 20, the machine's; Debian's nodejs and npm, installed above, when the machine has none)
devcontainers_cli=/opt/containers-dotnet-tests/devcontainers-cli
if [ ! -x "$devcontainers_cli/node_modules/.bin/devcontainer" ]; then
  mkdir -p "$devcontainers_cli"
  npm install --prefix "$devcontainers_cli" --no-audit --no-fund --loglevel=error @devcontainers/cli@0.89.0
fi
# the replicated volumes' backup tests store into s3rver (npm), an S3-compatible server, on 127.0.0.1
s3rver=/opt/containers-dotnet-tests/s3rver
if [ ! -x "$s3rver/node_modules/.bin/s3rver" ]; then
  mkdir -p "$s3rver"
  npm install --prefix "$s3rver" --no-audit --no-fund --loglevel=error s3rver@3.7.1
fi
status=0
started=$(mktemp /tmp/containers-tests-run-XXXXXX)
dotnet test Containers.sln "$@" || status=$?
# the .NET runtime's diagnostic sockets of processes the tests SIGKILLed (failover tests) stay behind: those made
# during this run whose process is gone are removed
find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'dotnet-diagnostic-*-socket' -newer "$started" 2>/dev/null | while read -r s; do
  pid=${s##*/dotnet-diagnostic-}; pid=${pid%%-*}; [ -d "/proc/$pid" ] || rm -f "$s"; done
rm -f "$started"
# each test removes its own cgroups; the engines' shared parents (containers-dotnet under each hierarchy) go once empty
for parent in /sys/fs/cgroup/*/containers-dotnet; do [ -d "$parent" ] && rmdir "$parent" 2>/dev/null || true; done
exit $status
