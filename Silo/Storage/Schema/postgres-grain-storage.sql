-- Orleans' ADO.NET grain storage ([PersistentState] on Microsoft.Orleans.Persistence.AdoNet) on the
-- cluster's PostgreSQL. The package ships no SQL: at start the provider reads
-- "SELECT QueryKey, QueryText FROM OrleansQuery" and runs the text stored under WriteToStorageKey,
-- ReadFromStorageKey, ClearStorageKey and DeleteStorageKey with named parameters (@GrainIdN0, ...),
-- reading result columns by name. Its ETag is the row's version: a write or clear names the
-- version it read, and answers the new one, or NULL when the row moved (Orleans then throws
-- InconsistentStateException). A cleared row (payload NULL, version kept) reads as no row, and a
-- first write takes it: Orleans 10.4.2 casts a read row's missing payload to the state type, which
-- fails for a value type (IPersistentState<int>).
--
-- Idempotent: PostgresGrainStorageSchema.ApplyAsync runs it at every silo start, in one transaction
-- behind an advisory lock.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64)   NOT NULL PRIMARY KEY,
    QueryText varchar(8000) NOT NULL
);

-- One row per grain state. The key is the grain id as Orleans splits it (two 64-bit halves and
-- the string part, '' when none) under the service and the grain type; the hashes Orleans also
-- sends are not needed to find a row here.
CREATE TABLE IF NOT EXISTS orleans_grain_state
(
    service_id   varchar(150) NOT NULL,
    grain_type   varchar(512) NOT NULL,
    grain_id_n0  bigint       NOT NULL,
    grain_id_n1  bigint       NOT NULL,
    grain_id_ext varchar(512) NOT NULL,
    payload      bytea        NULL,
    version      integer      NOT NULL,
    modified_on  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', $q$
SELECT payload AS "PayloadBinary", version AS "Version"
FROM orleans_grain_state
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
  AND payload IS NOT NULL
$q$),

-- A first write (no ETag) takes a cleared row or inserts version 1 unless a row exists; a later one
-- updates the row at the version it read. Exactly one row comes back: the new version, or NULL on a conflict.
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE orleans_grain_state
    SET payload = @PayloadBinary, version = version + 1, modified_on = now()
    WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_id_ext = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
      AND (version = CAST(@GrainStateVersion AS integer) OR (CAST(@GrainStateVersion AS integer) IS NULL AND payload IS NULL))
    RETURNING version
), inserted AS (
    INSERT INTO orleans_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, payload, version)
    SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, COALESCE(CAST(@GrainIdExtensionString AS varchar), ''), @PayloadBinary, 1
    WHERE CAST(@GrainStateVersion AS integer) IS NULL AND NOT EXISTS (SELECT 1 FROM updated)
    ON CONFLICT DO NOTHING
    RETURNING version
)
SELECT (SELECT version FROM updated UNION ALL SELECT version FROM inserted LIMIT 1) AS "NewGrainStateVersion"
$q$),

-- Clear keeps the row (its version goes on, so a stale writer still conflicts); answers the new version.
('ClearStorageKey', $q$
UPDATE orleans_grain_state
SET payload = NULL, version = version + 1, modified_on = now()
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
  AND version = CAST(@GrainStateVersion AS integer)
RETURNING version
$q$),

-- With DeleteStateOnClear the row goes; Orleans expects the deleted version + 1 back.
('DeleteStorageKey', $q$
DELETE FROM orleans_grain_state
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(CAST(@GrainIdExtensionString AS varchar), '')
  AND version = CAST(@GrainStateVersion AS integer)
RETURNING version + 1
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText
WHERE OrleansQuery.QueryText IS DISTINCT FROM EXCLUDED.QueryText;
