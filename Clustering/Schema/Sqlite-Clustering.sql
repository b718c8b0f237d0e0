-- OrleansReplication: the SQLite membership table of SqliteMembershipTable (Orleans IMembershipTable).
-- Idempotent: every silo and client runs it at start, inside BEGIN IMMEDIATE, so processes that start
-- together create the tables once. Times are UTC ticks (100 ns since 0001-01-01), exact round trips.

-- One row per cluster id: the table version of Orleans' membership protocol. Every row write checks
-- it and adds one to it in the same transaction.
CREATE TABLE IF NOT EXISTS orleans_membership_version
(
    cluster_id TEXT    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL
);

-- One row per silo incarnation (address, port and generation).
CREATE TABLE IF NOT EXISTS orleans_membership
(
    cluster_id      TEXT    NOT NULL,
    silo_address    TEXT    NOT NULL, -- SiloAddress.ToParsableString(): ip:port@generation
    etag            INTEGER NOT NULL, -- the row's own version: one more at every UpdateRow
    status          INTEGER NOT NULL, -- Orleans.Runtime.SiloStatus
    proxy_port      INTEGER NOT NULL, -- the gateway port; 0 when the silo is no gateway
    host_name       TEXT    NULL,
    silo_name       TEXT    NULL,
    role_name       TEXT    NULL,
    update_zone     INTEGER NOT NULL,
    fault_zone      INTEGER NOT NULL,
    suspect_times   TEXT    NULL,     -- 'silo,ticks|silo,ticks', silo as its parsable string
    last_vote_time  INTEGER NOT NULL, -- the latest of the suspect times (0 if none), for defunct-row cleanup
    start_time      INTEGER NOT NULL,
    i_am_alive_time INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, silo_address)
) WITHOUT ROWID;
