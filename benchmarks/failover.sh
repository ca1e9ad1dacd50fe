#!/usr/bin/env bash
# Failover times of the HA control plane, over TRIALS trials (median and worst), as issue "A cluster across machines"
# asks: three etcd members and three `containers cluster server` machines (5/3/1 s lease settings, a virtual IP),
# each machine a network namespace on a bridge of its own (cdfo0, 10.233.0.0/24, no host address), a client
# namespace that plays the user.
#   - control plane: SIGKILL the machine holding the virtual IP; time until the VIP answers /version from another
#     machine and until another machine leads the controllers (kube-controller-manager Lease); the killed server is
#     started again before the next trial, and each trial waits a random 0-1 s so kills fall anywhere in the renew period.
#   - etcd: SIGKILL the etcd leader; time until a write through the VIP succeeds; the member is started again.
# Usage: CLI=PATH/containers-cli benchmarks/failover.sh [TRIALS=10]
# (CLI from `dotnet publish samples/Cli -c Release -o DIR`: DIR/containers-cli; or a test build's containers-cli)
set -euo pipefail
TRIALS=${1:-10}
CLI=${CLI:?set CLI to a containers-cli binary}
command -v etcd >/dev/null && command -v etcdctl >/dev/null || { echo "needs etcd-server and etcd-client" >&2; exit 1; }
BR=cdfo0; LAN=10.233.0; VIP=$LAN.10
WORK=$(mktemp -d /tmp/containers-failover-XXXX)
ETCD=(e1 e2 e3); SERVERS=(c1 c2 c3)
declare -A IP=([e1]=$LAN.11 [e2]=$LAN.12 [e3]=$LAN.13 [c1]=$LAN.21 [c2]=$LAN.22 [c3]=$LAN.23 [client]=$LAN.100)
declare -A PID=()
ENDPOINTS="http://$LAN.11:2379,http://$LAN.12:2379,http://$LAN.13:2379"
CLUSTER="e1=http://$LAN.11:2380,e2=http://$LAN.12:2380,e3=http://$LAN.13:2380"

cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  sleep 0.5
  for n in "${ETCD[@]}" "${SERVERS[@]}" client; do ip netns del cdfo-$n 2>/dev/null || true; ip link del cdfo-$n 2>/dev/null || true; done
  ip link del $BR 2>/dev/null || true
  while iptables -D FORWARD -i $BR -o $BR -j ACCEPT 2>/dev/null; do :; done
  rm -rf "$WORK" /dev/shm/"$(basename "$WORK")"-*
}
trap cleanup EXIT

ip link add $BR type bridge && ip link set $BR up
iptables -I FORWARD -i $BR -o $BR -j ACCEPT
for n in "${ETCD[@]}" "${SERVERS[@]}" client; do
  ip netns add cdfo-$n && ip link add cdfo-$n type veth peer name eth0 netns cdfo-$n && ip link set cdfo-$n master $BR up
  ip -n cdfo-$n addr add ${IP[$n]}/24 dev eth0 && ip -n cdfo-$n link set eth0 up && ip -n cdfo-$n link set lo up
done

start_etcd() { # NAME STATE(new|existing)
  local n=$1 ip=${IP[$1]}
  ip netns exec cdfo-$n etcd --name $n --data-dir /dev/shm/"$(basename "$WORK")"-$n --listen-client-urls http://$ip:2379 --advertise-client-urls http://$ip:2379 \
    --listen-peer-urls http://$ip:2380 --initial-advertise-peer-urls http://$ip:2380 --initial-cluster $CLUSTER --initial-cluster-state "$2" \
    --heartbeat-interval 100 --election-timeout 1000 --log-level error >>"$WORK/$n.log" 2>&1 &
  PID[$n]=$!
}
start_server() { # NAME
  local n=$1
  rm -f "$WORK/$n/cluster/pid"
  ip netns exec cdfo-$n "$CLI" --root "$WORK/$n" cluster server --name $n --etcd $ENDPOINTS --advertise-address ${IP[$n]} --vip $VIP --vip-interface eth0 \
    --leader-elect-lease-duration 5s --leader-elect-renew-deadline 3s --leader-elect-retry-period 1s >>"$WORK/$n.log" 2>&1 &
  PID[$n]=$!
  for _ in $(seq 600); do [ -f "$WORK/$n/cluster/pid" ] && return 0; sleep 0.1; done
  echo "server $n did not start:" >&2; tail -20 "$WORK/$n.log" >&2; exit 1
}
curlc() { ip netns exec cdfo-client curl -sf --max-time "$1" --cacert "$WORK/c1/cluster/pki/ca.crt" --cert "$WORK/c1/cluster/pki/admin.crt" --key "$WORK/c1/cluster/pki/admin.key" "${@:2}"; }
holder() { curlc 2 "https://$VIP:6443/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$1" 2>/dev/null | grep -o '"holderIdentity":"[^"_]*' | cut -d'"' -f4 || true; }
now() { date +%s.%N; }
median_worst() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "median %.2f s, worst %.2f s (%d trials)\n", m, a[NR], NR}'; }

for n in "${ETCD[@]}"; do start_etcd $n new; done
for _ in $(seq 100); do ip netns exec cdfo-client etcdctl --endpoints $ENDPOINTS endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
start_server c1; start_server c2; start_server c3
for _ in $(seq 100); do curlc 1 "https://$VIP:6443/version" >/dev/null 2>&1 && break; sleep 0.2; done

: > "$WORK/vip.times"; : > "$WORK/controllers.times"; : > "$WORK/etcd.times"
for t in $(seq "$TRIALS"); do
  for _ in $(seq 100); do [ -n "$(holder containers-vip)" ] && [ -n "$(holder kube-controller-manager)" ] && break; sleep 0.2; done
  sleep "0.$((RANDOM % 10))"
  victim=$(holder containers-vip); ctl=$(holder kube-controller-manager)
  lease=$(curlc 2 "https://$VIP:6443/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/containers-vip" | tr -d ' \n')
  t0=$(now); kill -9 "${PID[$victim]}"
  renewed=$(date -d "$(echo "$lease" | grep -o '"renewTime":"[^"]*' | cut -d'"' -f4)" +%s.%N)
  echo "trial $t: the VIP's lease ($(echo "$lease" | grep -o '"holderIdentity":"[^"]*' | cut -d'"' -f4)) was renewed $(awk "BEGIN {printf \"%.2f\", $t0 - $renewed}") s before the kill"
  while ! { curlc 1 "https://$VIP:6443/version" >/dev/null 2>&1 && h=$(holder containers-vip) && [ -n "$h" ] && [ "$h" != "$victim" ]; }; do sleep 0.05; done
  t1=$(now)
  while h=$(holder kube-controller-manager); [ -z "$h" ] || [ "$h" = "$victim" ]; do sleep 0.05; done
  t2=$(now)
  vip=$(awk "BEGIN {printf \"%.2f\", $t1 - $t0}"); ctlt=$(awk "BEGIN {printf \"%.2f\", $t2 - $t0}")
  echo "$vip" >> "$WORK/vip.times"; echo "$ctlt" >> "$WORK/controllers.times"
  echo "trial $t: killed $victim (controllers on $ctl): VIP from $(holder containers-vip) after $vip s, controllers on $(holder kube-controller-manager) after $ctlt s"
  start_server "$victim"

  # the etcd leader
  leader_id=$(ip netns exec cdfo-client etcdctl --endpoints $ENDPOINTS endpoint status -w json | grep -o '"leader":[0-9]*' | head -1 | cut -d: -f2)
  leader=""
  for n in "${ETCD[@]}"; do
    id=$(ip netns exec cdfo-client etcdctl --endpoints http://${IP[$n]}:2379 endpoint status -w json | grep -o '"member_id":[0-9]*' | cut -d: -f2)
    [ "$id" = "$leader_id" ] && leader=$n
  done
  t0=$(now); kill -9 "${PID[$leader]}"
  i=0; while ! curlc 1 -X POST -H 'Content-Type: application/json' "https://$VIP:6443/api/v1/namespaces/default/configmaps" -d "{\"metadata\":{\"name\":\"fo-$t-$i\"}}" >/dev/null 2>&1; do i=$((i+1)); sleep 0.05; done
  t1=$(now); w=$(awk "BEGIN {printf \"%.2f\", $t1 - $t0}"); echo "$w" >> "$WORK/etcd.times"
  echo "trial $t: killed etcd leader $leader: a write succeeded after $w s"
  start_etcd "$leader" existing
  for _ in $(seq 100); do ip netns exec cdfo-client etcdctl --endpoints http://${IP[$leader]}:2379 endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
done

echo "VIP answering from another machine: $(median_worst < "$WORK/vip.times")"
echo "controllers leading elsewhere:      $(median_worst < "$WORK/controllers.times")"
echo "writes after the etcd leader died:  $(median_worst < "$WORK/etcd.times")"
