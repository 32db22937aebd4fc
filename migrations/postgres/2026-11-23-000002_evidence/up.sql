-- Evidence for the fit engine: the material a package is about, each dataset's rows, and
-- application requirement profiles.
ALTER TABLE packages ADD COLUMN material_id TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN producer TEXT NOT NULL DEFAULT '';
CREATE INDEX packages_material ON packages (material_id);

ALTER TABLE datasets ADD COLUMN standard TEXT NOT NULL DEFAULT '';
-- every row of the dataset in one compact document, so a ranking over thousands of packages
-- reads one row per dataset: {"b": [batches], "c": [condition sets], "r": [[value, batch, °C, set]]}
ALTER TABLE datasets ADD COLUMN rows TEXT NOT NULL DEFAULT '';

CREATE TABLE profiles (
    id TEXT NOT NULL,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    material_class TEXT NOT NULL,
    illustrative BOOLEAN NOT NULL,
    -- the organisation that registered it; empty for the built-in profiles
    organisation_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);
