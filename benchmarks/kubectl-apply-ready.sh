#!/usr/bin/env bash
# `kubectl apply` of one real pod until it is Ready, on a one-node cluster of the NativeAOT CLI: a busybox httpd with
# an httpGet readiness probe (period 1 s, as small as Kubernetes allows), from the start of `kubectl apply` until
# the pod is Ready, as a watch (`kubectl get -w`, started before) sees it; and until `kubectl wait`, started once
# the apply returned, returns. kubectl wait returns 100 ms after it has seen the condition at the earliest (client-go's
# UntilWithSync polls its informer's sync every 100 ms: `kubectl wait -v=6` on a pod that is Ready already shows it),
# so its time is the watch's time plus at least that. Each run deletes the pod and waits for it to go. Prints every
# run and the medians.
# Needs: kubectl, busybox-static. Usage: benchmarks/kubectl-apply-ready.sh [runs] (CLI=path skips the publish)
set -euo pipefail
runs=${1:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/containers-apply-XXXXXX)
root=$work/root
cli=${CLI:-$work/cli/containers}
port=$((20000 + RANDOM % 10000))
watcher=
cleanup() {
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
  # the pod first (cluster down keeps pods running), then the control plane, then the pods' bridge
  [ -f "$root/kubeconfig" ] && KUBECONFIG=$root/kubeconfig timeout 60 kubectl delete pod web --ignore-not-found --grace-period=1 --wait=true >/dev/null 2>&1 || true
  "$cli" --root "$root" cluster down >/dev/null 2>&1 || true
  # the pod network's bridge (pods are gone): through the engine, which knows which bridge is its own
  "$cli" --root "$root" network rm k8s-pods >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${CLI:-}" ]; then dotnet publish "$here/samples/Cli/Cli.csproj" -c Release -o "$work/cli" >/dev/null; fi

# a busybox image: /bin with every applet, an httpd document
mkdir -p "$work/rootfs/bin" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
echo ready > "$work/rootfs/www/index.html"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$cli" --root "$root" import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' "$work/rootfs.tar" web:v1 >/dev/null

"$cli" --root "$root" cluster up --nodes 1 --port "$port" -d >/dev/null
export KUBECONFIG=$root/kubeconfig
cat > "$work/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: web:v1
    imagePullPolicy: Never
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    readinessProbe:
      httpGet: { path: /, port: 8080 }
      periodSeconds: 1
EOF

# the parts: a watch of the pod, each change stamped as it arrives (stored, scheduled, container running, Ready)
watch_log=$work/watch.log
kubectl get pods --watch --output-watch-events -o jsonpath='{.type} {.object.metadata.name} node={.object.spec.nodeName} running={.object.status.containerStatuses[0].state.running.startedAt} ready={.object.status.conditions[?(@.type=="Ready")].status}{"\n"}' 2>/dev/null \
  > >(while IFS= read -r line; do echo "$(date +%s%N) $line"; done > "$watch_log") &
watcher=$! # kubectl's own PID: killing it ends the stamping loop too
sleep 1
parts() { # the first stamp at or after $1 whose line matches $2, in ms after $1
  awk -v t0="$1" -v pat="$2" '$1 >= t0 && $0 ~ pat { printf "%d", ($1 - t0) / 1000000; exit }' "$watch_log"
}
times=()
readies=()
for i in $(seq "$runs"); do
  t0=$(date +%s%N)
  kubectl apply -f "$work/pod.yaml" >/dev/null
  ta=$(date +%s%N)
  kubectl wait --for=condition=Ready pod/web --timeout=60s >/dev/null
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  times+=("$ms")
  ready=$(parts "$t0" "web .*ready=True")
  readies+=("${ready:-$ms}")
  echo "run $i: ${ms} ms (kubectl apply returned after $(( (ta - t0) / 1000000 )) ms; seen by a watch: stored $(parts "$t0" "^[0-9]+ ADDED web") ms, scheduled $(parts "$t0" "web node=[a-z]") ms, container running $(parts "$t0" "web node=.* running=[0-9]") ms, Ready $(parts "$t0" "web .*ready=True") ms; kubectl wait returned at ${ms} ms)"
  kubectl delete pod web --grace-period=1 --wait=true >/dev/null
done
kill "$watcher" 2>/dev/null || true
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "kubectl apply to Ready, one pod, ${runs} runs: median $(median "${readies[@]}") ms to Ready as a watch sees it; median $(median "${times[@]}") ms until kubectl wait returned (a second kubectl process, and its 100 ms poll)"
