# Sourced by bench/profile-w1.sh and bench/count-w1.sh.
# silo_writes PID: the writes silo process PID committed so far, the sum of the last sequences of
# the partitions it leads (GET /v1/cluster/partitions on its HTTP port, 8080 + its --instance).
silo_writes() {
  local instance
  instance=$(tr '\0' ' ' < "/proc/$1/cmdline" | sed -E 's/.*--instance ([0-9]+).*/\1/')
  curl -s "http://127.0.0.1:$((8080 + instance))/v1/cluster/partitions" \
    | python3 -c 'import json,sys; print(sum(p.get("lastSequence") or 0 for p in json.load(sys.stdin)["partitions"]))'
}
