#!/usr/bin/env bash
# Profiles W1 at `applied`: per silo process, allocations and CPU per write (dotnet-counters),
# syscalls per write (strace -c -f) and the hottest frames (perf, with the JIT's perf map).
# Writes are counted from the partitions' sequence numbers before and after each window.
# Needs: strace, perf, and dotnet-counters (dotnet tool install --tool-path /tmp/dntools dotnet-counters).
# Usage: bench/profile-w1.sh [output-dir]   (from the repository root, after a Release build)
set -euo pipefail
out=${1:-bench/results/profile-$(date -u +%Y%m%d-%H%M%S)}
counters=${DOTNET_COUNTERS:-/tmp/dntools/dotnet-counters}
mkdir -p "$out"
dotnet bench/bin/Release/net10.0/OrleansReplication.Bench.dll w1 --safety applied --no-ceiling --runs 1 --warmup 5 --duration 150 \
  --silo-env DOTNET_PerfMapEnabled=1 --silo-env DOTNET_EnableWriteXorExecute=0 --out "$out/w1.json" > "$out/bench.out" 2> "$out/bench.err" &
bench=$!
sleep 25   # silos started, clients connected, warm-up over
silos=$(pgrep -P "$bench" -f OrleansReplication.Silo.dll || true)

. "$(dirname "$0")/silo-writes.sh"

window() { # name pid command...
  local name=$1 pid=$2; shift 2
  local before after
  before=$(silo_writes "$pid"); "$@"; after=$(silo_writes "$pid")
  echo "$name pid=$pid writes=$((after - before))" >> "$out/windows.txt"
}

for pid in $silos; do
  window counters "$pid" timeout 12 "$counters" collect --process-id "$pid" --counters System.Runtime --format csv -o "$out/counters-$pid.csv" --duration 00:00:00:10 > /dev/null || true
done
window counters-client "$(echo $silos | cut -d' ' -f1)" timeout 12 "$counters" collect --process-id "$bench" --counters System.Runtime --format csv -o "$out/counters-client.csv" --duration 00:00:00:10 > /dev/null || true
for pid in $silos; do
  window perf "$pid" perf record -F 499 -g -p "$pid" -o "$out/perf-$pid.data" -- sleep 8 2> /dev/null || true
  { perf report -i "$out/perf-$pid.data" --no-children --sort dso --stdio -g none 2> /dev/null | grep '%' | head -12
    perf report -i "$out/perf-$pid.data" --no-children --sort dso,symbol --stdio -g none 2> /dev/null | grep '%' | head -60; } > "$out/perf-$pid.txt" || true
done
for pid in $silos; do
  # Every thread of the silo (-p of the process alone attaches to its main thread only).
  threads=$(for t in /proc/"$pid"/task/*; do printf -- '-p %s ' "${t##*/}"; done)
  # shellcheck disable=SC2086
  window strace "$pid" timeout 8 strace -c -f $threads -o "$out/strace-$pid.txt" || true
done

wait "$bench" || true
cat "$out/windows.txt"
while read -r name pid w; do
  [ "$name" = counters ] && echo "== silo $pid" && python3 bench/summarize-counters.py "$out/counters-$pid.csv" "${w#writes=}" 10
done < "$out/windows.txt"
echo "profile in $out"
