-- A mirror of another registry (src/registry/mirror.rs). A mirror's log tables hold the
-- upstream's entries at the same indexes; this table holds what it trusts and how far it got.
CREATE TABLE mirror_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- the upstream's base URL
    upstream TEXT NOT NULL,
    -- the upstream's checkpoint verifier key (signed-note form), pinned on first sync
    upstream_key TEXT NOT NULL,
    -- the newest signed checkpoint whose entries were all proven to hash to its root; entries
    -- up to log_head.size of it are stored (fewer only while a sync is in progress)
    target_checkpoint TEXT,
    -- the signed checkpoint of exactly log_head.size entries, served at /log/checkpoint
    checkpoint TEXT,
    -- set when the upstream showed two histories: the mirror stops following it
    halted_reason TEXT,
    halted_at BIGINT,
    evidence_file TEXT,
    last_sync_at BIGINT,
    last_error TEXT
);

-- Packages whose log entry the mirror kept but whose file it refused (or could not fetch).
CREATE TABLE mirror_rejections (
    idx BIGINT PRIMARY KEY,
    digest TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    rejected_at BIGINT NOT NULL
);
