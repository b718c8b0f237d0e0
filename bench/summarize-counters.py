#!/usr/bin/env python3
"""Per-write costs from a dotnet-counters CSV: mean of each rate counter over the window, divided by
the writes per second the silo committed in that window. Usage: summarize-counters.py FILE WRITES SECONDS"""
import csv, sys
from collections import defaultdict

path, writes, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rate = writes / seconds if seconds else 0
values = defaultdict(list)
with open(path) as f:
    for row in csv.DictReader(f):
        values[row["Counter Name"]].append(float(row["Mean/Increment"]))
wanted = ["dotnet.gc.heap.total_allocated (By / 1 sec)", "dotnet.process.cpu.time (s / 1 sec)[cpu.mode=user]",
          "dotnet.process.cpu.time (s / 1 sec)[cpu.mode=system]", "dotnet.gc.collections ({collection} / 1 sec)[gc.heap.generation=gen0]",
          "dotnet.gc.pause.time (s / 1 sec)", "dotnet.monitor.lock_contentions ({contention} / 1 sec)",
          "dotnet.thread_pool.work_item.count ({work_item} / 1 sec)"]
wanted += [k for k in values if k.startswith("dotnet.exceptions")]
print(f"writes/s={rate:.0f}")
for name in wanted:
    if name in values:
        mean = sum(values[name]) / len(values[name])
        per_write = mean / rate if rate else float("nan")
        print(f"{name}: {mean:,.3f}/s  per write: {per_write:,.6g}")
