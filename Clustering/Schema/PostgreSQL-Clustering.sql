-- OrleansReplication: PostgreSQL schema for Orleans' ADO.NET clustering
-- (Microsoft.Orleans.Clustering.AdoNet, invariant "Npgsql"), written for this project.
--
-- Orleans issues no SQL of its own: at start it reads "SELECT QueryKey, QueryText FROM OrleansQuery"
-- and runs the text stored under each key it needs, with named parameters (@DeploymentId, ...),
-- reading result columns by name. This script creates the tables and stores the nine queries it
-- requires plus the optional per-row cleanup query of Orleans 10.4.
--
-- Idempotent: PostgresClusteringSchema.ApplyAsync runs it at every silo and client start, in one
-- transaction behind an advisory lock, so silos that start together apply it one at a time.
-- Query texts are upserted: the texts of this version of the script win over older ones.
--
-- Contract (from Orleans' RelationalOrleansQueries / DbStoredQueries):
--   * The table version is an integer per deployment (cluster id); its etag is the same integer.
--     A write passes the version it read as @Version; it must check it and add one to it in the
--     same statement, or change nothing.
--   * Writes that Orleans reads as a boolean return exactly one row with one column (> 0 = true).
--   * Row reads return at least one row (Orleans takes the version from the first row); a row with
--     a NULL StartTime means "no member".
--   * Orleans passes no row etag to any query: it reports the table version's etag as every row's
--     etag and refuses, before any query, an update whose row etag is not the version's. So the
--     table version alone guards every write.
--   * Times come as DateTime in UTC and are read back as UTC.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64)   NOT NULL PRIMARY KEY,
    QueryText varchar(8000) NOT NULL
);

-- One row per deployment: the membership table version.
CREATE TABLE IF NOT EXISTS orleans_cluster_version
(
    deployment_id text        NOT NULL PRIMARY KEY,
    version       integer     NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per silo incarnation; deleting a deployment's version row deletes its members.
CREATE TABLE IF NOT EXISTS orleans_cluster_member
(
    deployment_id   text        NOT NULL REFERENCES orleans_cluster_version (deployment_id) ON DELETE CASCADE,
    address         text        NOT NULL,
    port            integer     NOT NULL,
    generation      integer     NOT NULL,
    silo_name       text        NOT NULL,
    host_name       text        NOT NULL,
    status          integer     NOT NULL,
    proxy_port      integer     NOT NULL,
    suspect_times   text        NULL,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

-- A deployment's version with its members: all of them, or the one silo given (address, port,
-- generation); at least one row, whose NULL StartTime means no member.
CREATE OR REPLACE FUNCTION orleans_cluster_read(p_deployment text, p_address text, p_port integer, p_generation integer)
RETURNS TABLE ("Address" text, "Port" integer, "Generation" integer, "SiloName" text, "HostName" text,
    "Status" integer, "ProxyPort" integer, "SuspectTimes" text, "StartTime" timestamptz,
    "IAmAliveTime" timestamptz, "Version" integer)
LANGUAGE sql STABLE AS $f$
SELECT m.address, m.port, m.generation, m.silo_name, m.host_name, m.status, m.proxy_port,
    m.suspect_times, m.start_time, m.i_am_alive_time, COALESCE(v.version, 0)
FROM (SELECT p_deployment AS deployment_id) AS d
LEFT JOIN orleans_cluster_version AS v ON v.deployment_id = d.deployment_id
LEFT JOIN orleans_cluster_member AS m ON m.deployment_id = v.deployment_id
    AND (p_address IS NULL OR (m.address = p_address AND m.port = p_port AND m.generation = p_generation))
$f$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans_cluster_version (deployment_id) VALUES (@DeploymentId)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) > 0 FROM created
$q$),

-- The version row is locked first (FOR UPDATE): a concurrent writer waits, then sees the version
-- it expected is gone and writes nothing. The member row is written only if the version matched,
-- and the version moves on only if the member row was written.
('InsertMembershipKey', $q$
WITH expected AS (
    SELECT deployment_id FROM orleans_cluster_version
    WHERE deployment_id = @DeploymentId AND version = @Version
    FOR UPDATE
), inserted AS (
    INSERT INTO orleans_cluster_member (deployment_id, address, port, generation, silo_name, host_name,
        status, proxy_port, start_time, i_am_alive_time)
    SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName,
        @Status, @ProxyPort, @StartTime, @IAmAliveTime
    FROM expected
    ON CONFLICT (deployment_id, address, port, generation) DO NOTHING
    RETURNING deployment_id
), bumped AS (
    UPDATE orleans_cluster_version AS v SET version = v.version + 1, changed_at = now()
    FROM inserted WHERE v.deployment_id = inserted.deployment_id
    RETURNING 1
)
SELECT count(*) > 0 FROM bumped
$q$),

('UpdateMembershipKey', $q$
WITH expected AS (
    SELECT deployment_id FROM orleans_cluster_version
    WHERE deployment_id = @DeploymentId AND version = @Version
    FOR UPDATE
), updated AS (
    UPDATE orleans_cluster_member AS m
    SET status = @Status, suspect_times = @SuspectTimes, i_am_alive_time = @IAmAliveTime
    FROM expected
    WHERE m.deployment_id = expected.deployment_id
        AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
    RETURNING m.deployment_id
), bumped AS (
    UPDATE orleans_cluster_version AS v SET version = v.version + 1, changed_at = now()
    FROM updated WHERE v.deployment_id = updated.deployment_id
    RETURNING 1
)
SELECT count(*) > 0 FROM bumped
$q$),

-- A heartbeat: no version check, no version change.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_cluster_member SET i_am_alive_time = @IAmAliveTime
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$q$),

-- Both row reads go through this one statement, so the version and the rows come from one
-- snapshot. The deployment comes from the argument, so a deployment with no version row yet reads as
-- version 0 with no members instead of returning no row at all. Result columns carry the names Orleans
-- reads. A later version of this script that changes the result columns must DROP the function first.
('MembershipReadAllKey', $q$
SELECT * FROM orleans_cluster_read(@DeploymentId, NULL, NULL, NULL)
$q$),

('MembershipReadRowKey', $q$
SELECT * FROM orleans_cluster_read(@DeploymentId, @Address, @Port, @Generation)
$q$),

-- Orleans passes @Status = Active.
('GatewaysQueryKey', $q$
SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
FROM orleans_cluster_member
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
$q$),

-- The members go with their version row (ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans_cluster_version WHERE deployment_id = @DeploymentId
$q$),

-- Orleans 10.4 prefers the optional per-row key below when it is present: it reads the table, picks
-- the Dead rows whose start, heartbeat and suspicion votes are all older than the cutoff, and deletes
-- each one. This bulk key is required all the same, and used by Orleans versions without that logic:
-- Dead (6) rows with no start or heartbeat since @IAmAliveTime.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_cluster_member
WHERE deployment_id = @DeploymentId AND status = 6 AND GREATEST(start_time, i_am_alive_time) < @IAmAliveTime
$q$),

-- One Dead row as Orleans read it (@StartTime and @IAmAliveTime are the values it read): a row that
-- changed since is left for the next cleanup. Orleans also passes @SuspectTimes; its votes were
-- already checked against the cutoff, so the text is not compared.
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleans_cluster_member
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
    AND status = 6 AND start_time = @StartTime AND i_am_alive_time = @IAmAliveTime
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText
WHERE OrleansQuery.QueryText IS DISTINCT FROM EXCLUDED.QueryText;
