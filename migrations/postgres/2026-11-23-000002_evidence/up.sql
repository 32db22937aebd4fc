-- Evidence for the fit engine: every measurement of every published package, the material a
-- package is about, and application requirement profiles.
ALTER TABLE packages ADD COLUMN material_id TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN producer TEXT NOT NULL DEFAULT '';
CREATE INDEX packages_material ON packages (material_id);

ALTER TABLE datasets ADD COLUMN standard TEXT NOT NULL DEFAULT '';
-- every row of the dataset in one compact document, so a ranking over thousands of packages
-- reads one row per dataset: {"b": [batches], "c": [condition sets], "r": [[value, batch, °C, set]]}
ALTER TABLE datasets ADD COLUMN rows TEXT NOT NULL DEFAULT '';

CREATE TABLE measurements (
    digest TEXT NOT NULL REFERENCES packages (digest),
    dataset_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    specimen TEXT NOT NULL,
    batch TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    -- the specimen temperature in degrees Celsius, when stated (most requirements name one)
    temperature DOUBLE PRECISION,
    -- every other condition of the row, fixed or per row: {"name": [value, "unit"]}
    conditions TEXT NOT NULL,
    PRIMARY KEY (digest, dataset_id, row_index)
);

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
