#!/usr/bin/env bash
# fio on a replicated volume (3 replicas, and 1) against a local volume (a directory on the host's ext4, as docker's
# local driver and local-path keep one) and the raw disk (a loop device with direct I/O over a file on the same disk,
# no filesystem): sequential 1 MiB write and read, random 4 KiB write and read at queue depth 16, direct I/O, libaio.
# The replicas are replica servers on 127.0.0.1, each with its own directory on the same disk (so the replicated rows
# pay the network path and three writes per write, not three disks). Needs fio (apt-get install fio).
# Usage: benchmarks/volume-fio.sh [SIZE_MIB=256] [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}; secs=${2:-8}
command -v fio >/dev/null || { echo "volume-fio.sh: needs fio (apt-get install fio)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/volume-fio-XXXXXX)
serve_pid=""; loopdev=""
cleanup() {
  [ -n "$serve_pid" ] && { exec 3>&- 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
  [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dotnet build -c Release benchmarks/Containers.Benchmarks -v q -nologo >/dev/null
bench=benchmarks/Containers.Benchmarks/bin/Release/net10.0/linux-x64/Containers.Benchmarks

# fio's terse output: field 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS
run() { # NAME FILE_OR_DEVICE
  local name=$1 target=$2
  for job in "write 1M 1" "read 1M 1" "randwrite 4k 16" "randread 4k 16"; do
    set -- $job
    local line
    line=$(fio --name=j --filename="$target" --rw="$1" --bs="$2" --iodepth="$3" --ioengine=libaio --direct=1 \
      --size="${size}M" --runtime="$secs" --time_based --ramp_time=1 --group_reporting --minimal 2>/dev/null)
    local iops bw
    if [[ $1 == *write ]]; then bw=$(cut -d';' -f48 <<<"$line"); iops=$(cut -d';' -f49 <<<"$line")
    else bw=$(cut -d';' -f7 <<<"$line"); iops=$(cut -d';' -f8 <<<"$line"); fi
    printf '%-22s %-10s %-4s qd%-3s %10s IOPS %9.1f MiB/s\n' "$name" "$1" "$2" "$3" "$iops" "$(awk "BEGIN{print $bw/1024}")"
  done
}

# raw: a loop device with direct I/O over a preallocated file
fallocate -l "${size}M" "$work/raw.img"
loopdev=$(losetup -f --show --direct-io=on "$work/raw.img")
run "raw disk (loop, dio)" "$loopdev"
losetup -d "$loopdev"; loopdev=""

# local volume: a file in a directory on the host's ext4
mkdir -p "$work/local"
run "local volume (ext4)" "$work/local/fio.dat"

for replicas in 3 1; do
  mkdir -p "$work/r$replicas/mnt"
  exec 3> >(true)
  coproc SERVE { "$bench" volume-serve "$work/r$replicas" $((size + 128)) "$replicas" "$work/r$replicas/mnt"; }
  serve_pid=$SERVE_PID
  read -r ready <&"${SERVE[0]}"
  [ "$ready" = ready ] || { echo "volume-serve: $ready" >&2; exit 1; }
  run "replicated x$replicas" "$work/r$replicas/mnt/fio.dat"
  rm -f "$work/r$replicas/mnt/fio.dat"
  eval "exec ${SERVE[1]}>&-"
  while read -r sum; do echo "  replica $sum"; done <&"${SERVE[0]}"
  wait "$serve_pid" || { echo "volume-serve: a replica failed" >&2; exit 1; }
  serve_pid=""
done
