ALTER TABLE package_materials DROP COLUMN source;
