-- Where each package's material was made (production sites and process route, as JSON), so
-- that a fit pools another source's evidence only after equivalency. Rows stored before this
-- migration are filled at start-up from their manifests (prequal serve's preparation).
ALTER TABLE package_materials ADD COLUMN source TEXT NOT NULL DEFAULT '';
