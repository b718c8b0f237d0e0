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
