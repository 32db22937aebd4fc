-- A publisher records its intent to store a blob (committed) before it stores the blob, and
-- deletes the row in the transaction that commits the package. A row left behind names a blob
-- that a crash between storing and committing may have left unreferenced; the sweeper
-- (Registry::sweep_orphans) removes such blobs and their rows.
CREATE TABLE blob_intents (
    id INTEGER PRIMARY KEY,
    blob_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX blob_intents_sha ON blob_intents (blob_sha256);
