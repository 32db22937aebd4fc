-- The transparency log (src/log, src/registry/transparency.rs). Entries are appended in the
-- transaction of the state change they record; the one row of log_head is updated first by
-- every append, so concurrent writers (several processes on one database) take indexes one
-- after another: a row lock on PostgreSQL, the write lock on SQLite.
CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- the number of entries: the next index
    size BIGINT NOT NULL,
    -- true once the state that predates the log has been logged (start-up backfill)
    backfilled BOOLEAN NOT NULL
);
INSERT INTO log_head (id, size, backfilled) VALUES (1, 0, FALSE);

CREATE TABLE log_entries (
    idx BIGINT PRIMARY KEY,
    -- organisation_added, key_added, key_revoked, package_published, package_countersigned,
    -- package_withdrawn
    kind TEXT NOT NULL,
    -- the organisation id, key id or package digest the entry is about
    subject TEXT NOT NULL,
    -- the entry's bytes (format prequal-log-entry-v1, src/log/entry.rs)
    entry BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    -- for a sealed entry (a change to a non-public package): the full entry and the salt its
    -- commitment uses; served only to readers who may see the package
    sealed_entry BLOB,
    salt BLOB
);
CREATE INDEX log_entries_subject ON log_entries (subject, kind);

-- The hash of every complete subtree: level L, index N covers leaves [N*2^L, (N+1)*2^L).
-- Level 0 repeats the leaf hashes so that every tile level reads one table. Rows never change.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);
