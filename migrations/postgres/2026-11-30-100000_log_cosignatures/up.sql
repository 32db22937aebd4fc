-- Witness cosignatures of the log's checkpoints (C2SP tlog-cosignature, src/log/cosignature.rs),
-- accepted by POST /log/cosignature from the witnesses the registry is configured with and
-- served with the checkpoint of their tree size. One per witness key and tree size: a witness
-- that cosigns the same size again keeps its first cosignature.
CREATE TABLE log_cosignatures (
    -- the witness's verifier key, <name>+<key id>+<base64(0x04 || key)>
    witness TEXT NOT NULL,
    tree_size BIGINT NOT NULL,
    -- the root hash the witness cosigned (the log's root at tree_size)
    root_hash BYTEA NOT NULL,
    -- the witness's timestamp, POSIX seconds
    cosigned_at BIGINT NOT NULL,
    -- the signature line as received, '— <name> <base64>' with its newline
    line TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (witness, tree_size)
);
CREATE INDEX log_cosignatures_size ON log_cosignatures (tree_size);
