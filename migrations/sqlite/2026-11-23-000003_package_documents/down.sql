DROP INDEX datasets_property_digest;
CREATE INDEX datasets_property ON datasets (property);
ALTER TABLE packages ADD COLUMN manifest TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN verification TEXT NOT NULL DEFAULT '';
UPDATE packages SET
    manifest = (SELECT d.manifest FROM package_documents d WHERE d.digest = packages.digest),
    verification = (SELECT d.verification FROM package_documents d WHERE d.digest = packages.digest);
DROP TABLE package_documents;
