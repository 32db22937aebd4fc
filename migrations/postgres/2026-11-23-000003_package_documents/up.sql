-- A package's manifest and verification record (a few kilobytes each) move out of `packages`,
-- so that listing, searching and ranking read only the small columns.
CREATE TABLE package_documents (
    digest TEXT PRIMARY KEY NOT NULL REFERENCES packages (digest),
    manifest TEXT NOT NULL,
    verification TEXT NOT NULL
);
INSERT INTO package_documents (digest, manifest, verification)
    SELECT digest, manifest, verification FROM packages;
ALTER TABLE packages DROP COLUMN manifest;
ALTER TABLE packages DROP COLUMN verification;

-- Evidence is read as "datasets of these properties in these packages": an index on both,
-- so that the plan does not depend on the planner's statistics.
DROP INDEX datasets_property;
CREATE INDEX datasets_property_digest ON datasets (property, digest);
