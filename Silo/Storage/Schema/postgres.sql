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

-- Write requests that carried an idempotency id (client id + sequence) with their results, per
-- partition: one row per commit that had any, written in the same transaction as the changes, so
-- after a cold start a retry is still answered from its first attempt. last_sequence is the newest
-- request's; commits delete the oldest rows by it, as the in-memory bound (Replication:RequestsRetained /
-- RequestRetention) forgets them. requests is a protobuf ReplicatedRequestBlock.
CREATE TABLE IF NOT EXISTS or_requests (
    partition_id  INT     NOT NULL,
    last_sequence BIGINT  NOT NULL,
    requests      BYTEA   NOT NULL,
    PRIMARY KEY (partition_id, last_sequence)
);

-- Silos an operator asked to drain ('id@incarnation'): placement gives them nothing new and
-- they hand their primaries off. Liveness itself is Orleans' membership table.
CREATE TABLE IF NOT EXISTS or_draining (
    silo TEXT PRIMARY KEY
);

-- The partition map: one row per assigned partition, changed only by compare-and-swap on version.
-- Silos are 'id@incarnation'; standbys are space-separated in promotion order ('' for none).
CREATE TABLE IF NOT EXISTS or_partition_map (
    partition_id INT    PRIMARY KEY,
    version      BIGINT NOT NULL,
    epoch        BIGINT NOT NULL,
    primary_silo TEXT   NULL,
    standbys     TEXT   NOT NULL
);
