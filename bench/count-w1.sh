#!/usr/bin/env bash
# Per-write costs of W1 (all silo processes and the bench client together): CPU, context switches
# and syscalls by kind, counted by `perf stat` over a 6 s window of the measured phase. Writes are
# counted from the partitions' sequence numbers (GET /v1/cluster/partitions) before and after.
# Needs perf. Usage (repository root, after a Release build): bench/count-w1.sh [safety] [bench options...]
set -euo pipefail
safety=${1:-applied}
out=$(mktemp -d)
dotnet bench/bin/Release/net10.0/OrleansReplication.Bench.dll w1 --safety "$safety" --no-ceiling --runs 1 --warmup 3 --duration 20 "${@:2}" > "$out/bench.out" 2>&1 &
bench=$!
sleep 16   # silos up, clients connected, inside the measured phase
silos=$(pgrep -P "$bench" -f OrleansReplication.Silo.dll)
. "$(dirname "$0")/silo-writes.sh"
writes() { silo_writes "$(echo $silos | cut -d' ' -f1)"; }
kinds=sched_yield,pwrite64,pread64,sendto,recvfrom,epoll_wait,futex,fsync,fcntl
events=context-switches,task-clock,raw_syscalls:sys_enter$(printf ',syscalls:sys_enter_%s' ${kinds//,/ })
before=$(writes)
perf stat -x, -e "$events" -p "$(echo $bench $silos | tr ' ' ',')" -- sleep 6 2> "$out/perf.csv"
after=$(writes)
wait "$bench" || true
python3 - "$out/perf.csv" $((after - before)) <<'PY'
import sys
writes = int(sys.argv[2])
print(f"writes={writes}")
for line in open(sys.argv[1]):
    parts = line.strip().split(",")
    if len(parts) < 3 or not parts[0].replace(".", "").isdigit():
        continue
    value, event = float(parts[0]), parts[2].replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter", "syscalls")
    per = value * 1000 / writes if event == "task-clock" else value / writes  # task-clock is in ms
    print(f"  {event}: {per:.2f}" + (" us of CPU" if event == "task-clock" else "") + " per write")
PY
grep 'run 1' "$out/bench.out" | sed 's/^ *run 1: //'
rm -rf "$out"
