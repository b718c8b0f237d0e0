# Sourced by bench/profile-w1.sh and bench/count-w1.sh.
# silo_writes PID: the writes the cluster committed so far as silo process PID reports them, the sum
# of every partition's last sequence (GET /v1/cluster/partitions on its HTTP port, 8080 + its
# --instance; any silo reports every partition, so ask one silo, not each).
silo_writes() {
  local instance
  instance=$(tr '\0' ' ' < "/proc/$1/cmdline" | sed -E 's/.*--instance ([0-9]+).*/\1/')
  curl -s "http://127.0.0.1:$((8080 + instance))/v1/cluster/partitions" \
    | python3 -c 'import json,sys; print(sum(p.get("lastSequence") or 0 for p in json.load(sys.stdin)["partitions"]))'
}
