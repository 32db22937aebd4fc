DROP TABLE profiles;
ALTER TABLE datasets DROP COLUMN rows;
ALTER TABLE datasets DROP COLUMN standard;
DROP INDEX packages_material;
ALTER TABLE packages DROP COLUMN producer;
ALTER TABLE packages DROP COLUMN material_id;
