-- Back to the digest-keyed tables of 2026-11-30-000001_search_index (empty: derived data, refilled at start-up).
DROP TABLE search_generation;
DROP TABLE dataset_points;
DROP TABLE search_index;

-- Search reads one row per package from search_index and, for a property filter, the
-- per-temperature means in dataset_points, so that a search is one indexed query instead of
-- loading every package. Both are derived data: the registry fills them at publish time, keeps
-- search_index current in the same transaction as every change of a package's standing
-- (supersession, withdrawal, countersignature, key revocation), and fills rows missing here
-- (packages published before this migration) at start-up.
CREATE TABLE search_index (
    digest TEXT PRIMARY KEY NOT NULL REFERENCES packages (digest),
    material_id TEXT NOT NULL,
    material_class TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    releasability TEXT NOT NULL,
    producer_country TEXT NOT NULL,
    designation TEXT NOT NULL,
    producer TEXT NOT NULL,
    -- lowercase designation, producer, package name and title, one per line
    text TEXT NOT NULL,
    -- active, not withdrawn, superseded or suspect (the rule of the package summary)
    evidence BOOLEAN NOT NULL,
    countersigned BOOLEAN NOT NULL,
    -- from the manifest's composition; NULL when it is not stated
    rare_earth_free BOOLEAN,
    cobalt_free BOOLEAN,
    dy_tb DOUBLE PRECISION,
    supply_hhi DOUBLE PRECISION,
    registered_at BIGINT NOT NULL
);
CREATE INDEX search_index_material ON search_index (material_id);

-- One row per dataset and tested temperature: the mean of that temperature's rows in the
-- property's canonical unit (temperature_c NULL: rows that state no temperature).
CREATE TABLE dataset_points (
    digest TEXT NOT NULL REFERENCES packages (digest),
    dataset_id TEXT NOT NULL,
    point INTEGER NOT NULL,
    property TEXT NOT NULL,
    temperature_c DOUBLE PRECISION,
    value DOUBLE PRECISION NOT NULL,
    measurements INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    PRIMARY KEY (digest, dataset_id, point)
);
-- Covering, so that a property search can be answered from the index alone.
CREATE INDEX dataset_points_value ON dataset_points (property, temperature_c, value)
    INCLUDE (digest, dataset_id, measurements, batches);
