-- Orleans' ADO.NET grain storage ([PersistentState] on Microsoft.Orleans.Persistence.AdoNet, its
-- "System.Data.SQLite" invariant, served by Microsoft.Data.Sqlite) in a SQLite file beside the
-- replication's own. The package ships no SQL: at start the provider reads
-- "SELECT QueryKey, QueryText FROM OrleansQuery" and runs the text stored under WriteToStorageKey,
-- ReadFromStorageKey, ClearStorageKey and DeleteStorageKey with named parameters (@GrainIdN0, ...),
-- reading result columns by name (a clear: its first column). Its ETag is the row's version: a
-- write or clear names the version it read and answers the new one; no row back means the row
-- moved (Orleans then throws InconsistentStateException). A cleared row (payload NULL, version kept)
-- reads as no row, and a first write takes it: Orleans 10.4.2 casts a read row's missing payload to
-- the state type, which fails for a value type (IPersistentState<int>).
--
-- Idempotent: SqliteGrainStorage.ApplySchemaAsync runs it at every silo start, in one
-- BEGIN IMMEDIATE transaction, so silos sharing the file apply it one at a time.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);

-- One row per grain state, keyed by the grain id as Orleans splits it (two 64-bit halves and the
-- string part, '' when none) under the service and the grain type.
CREATE TABLE IF NOT EXISTS orleans_grain_state
(
    service_id   TEXT    NOT NULL,
    grain_type   TEXT    NOT NULL,
    grain_id_n0  INTEGER NOT NULL,
    grain_id_n1  INTEGER NOT NULL,
    grain_id_ext TEXT    NOT NULL,
    payload      BLOB    NULL,
    version      INTEGER NOT NULL,
    modified_on  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
) WITHOUT ROWID;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', '
SELECT payload AS PayloadBinary, version AS Version
FROM orleans_grain_state
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(@GrainIdExtensionString, '''')
  AND payload IS NOT NULL
'),

-- A later write updates the row at the version it read; a first write (no ETag) takes a cleared
-- row, or inserts version 1 unless a row exists. At most one statement answers a row: the new version.
('WriteToStorageKey', '
UPDATE orleans_grain_state
SET payload = @PayloadBinary, version = version + 1, modified_on = strftime(''%Y-%m-%dT%H:%M:%fZ'', ''now'')
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(@GrainIdExtensionString, '''')
  AND (version = @GrainStateVersion OR (@GrainStateVersion IS NULL AND payload IS NULL))
RETURNING version AS NewGrainStateVersion;
INSERT INTO orleans_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, payload, version)
SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, COALESCE(@GrainIdExtensionString, ''''), @PayloadBinary, 1
WHERE @GrainStateVersion IS NULL AND changes() = 0
ON CONFLICT DO NOTHING
RETURNING version AS NewGrainStateVersion;
'),

-- Clear keeps the row (its version goes on, so a stale writer still conflicts); answers the new version.
('ClearStorageKey', '
UPDATE orleans_grain_state
SET payload = NULL, version = version + 1, modified_on = strftime(''%Y-%m-%dT%H:%M:%fZ'', ''now'')
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(@GrainIdExtensionString, '''')
  AND version = @GrainStateVersion
RETURNING version;
'),

-- With DeleteStateOnClear the row goes; Orleans expects the deleted version + 1 back.
('DeleteStorageKey', '
DELETE FROM orleans_grain_state
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(@GrainIdExtensionString, '''')
  AND version = @GrainStateVersion
RETURNING version + 1;
')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText
WHERE QueryText IS NOT excluded.QueryText;
