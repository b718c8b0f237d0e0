-- OrleansReplication schema for SQLite. Idempotent: every silo runs it at start, inside one
-- BEGIN IMMEDIATE transaction (journal_mode = WAL is set by the store before it, outside any transaction).

-- Cluster-wide settings fixed at the first start, e.g. 'partition_count'.
CREATE TABLE IF NOT EXISTS or_cluster (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per partition ever written: the fencing token (epoch) and the last persisted sequence.
-- INTEGER PRIMARY KEY (not INT) makes partition_id the rowid: one b-tree lookup.
CREATE TABLE IF NOT EXISTS or_partitions (
    partition_id  INTEGER PRIMARY KEY,
    epoch         INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL
);

-- Every item; partition_id is stored so a partition loads with one index range scan.
CREATE TABLE IF NOT EXISTS or_items (
    component     TEXT    NOT NULL,
    partition_key TEXT    NOT NULL,
    item_id       TEXT    NOT NULL,
    partition_id  INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    value         BLOB    NOT NULL,
    PRIMARY KEY (component, partition_key, item_id)
);

CREATE INDEX IF NOT EXISTS or_items_partition_id ON or_items (partition_id);

-- Write requests that carried an idempotency id (client id + sequence) with their results, per
-- partition: one row per commit that had any, written in the same transaction as the changes, so
-- after a cold start a retry is still answered from its first attempt. last_sequence is the newest
-- request's; commits delete the oldest rows by it, as the in-memory bound (Replication:RequestsRetained /
-- RequestRetention) forgets them. requests is a protobuf ReplicatedRequestBlock.
CREATE TABLE IF NOT EXISTS or_requests (
    partition_id  INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    requests      BLOB    NOT NULL,
    PRIMARY KEY (partition_id, last_sequence)
);

-- Silos an operator asked to drain ('id@incarnation'): placement gives them nothing new and
-- they hand their primaries off. Liveness itself is Orleans' membership table.
CREATE TABLE IF NOT EXISTS or_draining (
    silo TEXT PRIMARY KEY
);

-- The partition map: one row per assigned partition, changed only by compare-and-swap on version.
-- Silos are 'id@incarnation'; standbys are space-separated in promotion order ('' for none).
-- INTEGER PRIMARY KEY (not INT) makes partition_id the rowid, as in or_partitions.
CREATE TABLE IF NOT EXISTS or_partition_map (
    partition_id INTEGER PRIMARY KEY,
    version      INTEGER NOT NULL,
    epoch        INTEGER NOT NULL,
    primary_silo TEXT    NULL,
    standbys     TEXT    NOT NULL
);
