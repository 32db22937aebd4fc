-- The registry's tables. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    country TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    public_key TEXT NOT NULL UNIQUE,
    added_at BIGINT NOT NULL,
    -- effective time of the revocation; may be earlier than the moment it was recorded
    revoked_at BIGINT,
    -- a compromised key taints packages registered since revoked_at
    compromised BOOLEAN NOT NULL DEFAULT FALSE,
    revocation_reason TEXT
);
CREATE INDEX signing_keys_organisation ON signing_keys (organisation_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    -- SHA-256 of the whole token; the token itself is shown once and never stored
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE packages (
    digest TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    material_class TEXT NOT NULL,
    designation TEXT NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    -- public | allied | restricted; who exactly is in package_readers
    releasability TEXT NOT NULL,
    synthetic BOOLEAN NOT NULL,
    manifest TEXT NOT NULL,
    verification TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    withdrawn_reason TEXT,
    superseded_by TEXT,
    UNIQUE (name, version)
);
CREATE INDEX packages_organisation ON packages (organisation_id);
CREATE INDEX packages_class ON packages (material_class);
CREATE INDEX packages_registered ON packages (registered_at);
CREATE INDEX packages_blob ON packages (blob_sha256);

-- Readers of allied (country:XX) and restricted (org:ID) packages.
CREATE TABLE package_readers (
    digest TEXT NOT NULL REFERENCES packages (digest),
    reader TEXT NOT NULL,
    PRIMARY KEY (digest, reader)
);
CREATE INDEX package_readers_reader ON package_readers (reader, digest);

CREATE TABLE datasets (
    digest TEXT NOT NULL REFERENCES packages (digest),
    dataset_id TEXT NOT NULL,
    property TEXT NOT NULL,
    unit TEXT NOT NULL,
    file TEXT NOT NULL,
    measurements INTEGER NOT NULL,
    specimens INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    min_value DOUBLE PRECISION NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    mean_value DOUBLE PRECISION NOT NULL,
    conditions TEXT NOT NULL,
    PRIMARY KEY (digest, dataset_id)
);
CREATE INDEX datasets_property ON datasets (property);

CREATE TABLE signatures (
    digest TEXT NOT NULL REFERENCES packages (digest),
    key_id TEXT NOT NULL REFERENCES signing_keys (key_id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    -- author (the publishing lab) | countersignature (a certifier)
    kind TEXT NOT NULL,
    signature TEXT NOT NULL,
    -- package (inside the zip) | api (added after publication)
    source TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (digest, key_id)
);
