-- OrleansReplication schema for PostgreSQL. Idempotent, and safe to run from many silos at once:
-- run it in ONE transaction (psql -1 -f postgres.sql, or as the store does). Concurrent
-- CREATE TABLE IF NOT EXISTS can still fail on the catalog's unique index, so the first
-- statement serializes the runners on a transaction-scoped advisory lock (key: 'ORSCHEMA').
SELECT pg_advisory_xact_lock(5715722425526996289);

-- Cluster-wide settings fixed at the first start, e.g. 'partition_count'.
CREATE TABLE IF NOT EXISTS or_cluster (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per partition ever written: the fencing token (epoch) and the last persisted sequence.
CREATE TABLE IF NOT EXISTS or_partitions (
    partition_id  INT    PRIMARY KEY,
    epoch         BIGINT NOT NULL,
    last_sequence BIGINT NOT NULL
);

-- Every item; partition_id is stored so a partition loads with one index range scan.
CREATE TABLE IF NOT EXISTS or_items (
    component     TEXT   NOT NULL,
    partition_key TEXT   NOT NULL,
    item_id       TEXT   NOT NULL,
    partition_id  INT    NOT NULL,
    version       BIGINT NOT NULL,
    value         BYTEA  NOT NULL,
    PRIMARY KEY (component, partition_key, item_id)
);

CREATE INDEX IF NOT EXISTS or_items_partition_id ON or_items (partition_id);
