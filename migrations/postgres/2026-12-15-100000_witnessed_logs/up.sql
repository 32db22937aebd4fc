-- What this registry, run as a C2SP tlog-witness (`prequal mirror --witness-log`), last
-- cosigned of each log it witnesses (src/log/witness.rs): one row per origin, replaced only by
-- a checkpoint consistent with it (compare-and-swap on size and root, so two add-checkpoint
-- requests racing can never roll a log back).
CREATE TABLE witnessed_logs (
    -- the checkpoint's origin line
    origin TEXT PRIMARY KEY NOT NULL,
    tree_size BIGINT NOT NULL,
    root_hash BYTEA NOT NULL,
    -- the checkpoint note as submitted (the log's signature lines), kept as evidence
    checkpoint TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
