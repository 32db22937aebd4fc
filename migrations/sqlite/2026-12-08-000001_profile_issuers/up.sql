-- Profiles owned by their issuers. A profile id belongs to the organisation that registered its
-- first version ('registry': the registry operator, owner of the built-in profiles); only the
-- owner adds versions, and only those are served. Versions registered through the API are
-- signed by their issuer and logged (`profile_version_added`); the columns below keep what a
-- reader or a mirror needs to check that.
CREATE TABLE profile_owners (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL,
    registered_at BIGINT NOT NULL
);
UPDATE profiles SET organisation_id = 'registry' WHERE organisation_id = '';
-- The owner of an existing id is the organisation of its earliest version; later versions by
-- anyone else stay in the table but are no longer served.
INSERT INTO profile_owners (id, organisation_id, registered_at)
    SELECT p.id, p.organisation_id, p.created_at FROM profiles p
    WHERE p.created_at = (SELECT MIN(q.created_at) FROM profiles q WHERE q.id = p.id)
    ON CONFLICT (id) DO NOTHING;
-- SHA-256 (hex) of the canonical body; the issuer's key id and base64 Ed25519 signature; the
-- index of the version's log entry. NULL for the built-in profiles (loaded from the binary by
-- every registry and mirror, never logged) and for versions stored before this migration.
ALTER TABLE profiles ADD COLUMN body_sha256 TEXT;
ALTER TABLE profiles ADD COLUMN key_id TEXT;
ALTER TABLE profiles ADD COLUMN signature TEXT;
ALTER TABLE profiles ADD COLUMN log_index BIGINT;
