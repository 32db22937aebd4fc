-- Search joins each matching dataset point to its package's search_index row. Joining on the
-- 71-character digest made that lookup the largest cost of a property search at 100 000
-- packages; an integer key (SQLite's rowid) is a single integer b-tree search. Both tables are
-- derived data, so they are recreated empty and the registry fills them again at start-up
-- (`Registry::reindex`, which logs its progress).
DROP TABLE dataset_points;
DROP TABLE search_index;

CREATE TABLE search_index (
    key INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE REFERENCES packages (digest),
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
    registered_at BIGINT NOT NULL,
    -- search_generation.value of the transaction that last wrote the row
    generation BIGINT NOT NULL
);
CREATE INDEX search_index_material ON search_index (material_id);
CREATE INDEX search_index_generation ON search_index (generation);

-- Raised by every transaction that writes search_index rows (they carry the new value), so a
-- registry process holding those rows in memory reads only the rows written since it last
-- looked. Writers take this row's lock, so generations commit in increasing order.
CREATE TABLE search_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO search_generation (id, value) VALUES (1, 0);

-- One row per dataset and tested temperature: the mean of that temperature's rows in the
-- property's canonical unit (temperature_c NULL: rows that state no temperature).
CREATE TABLE dataset_points (
    package_key INTEGER NOT NULL REFERENCES search_index (key),
    dataset_id TEXT NOT NULL,
    point INTEGER NOT NULL,
    property TEXT NOT NULL,
    temperature_c DOUBLE PRECISION,
    value DOUBLE PRECISION NOT NULL,
    measurements INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    PRIMARY KEY (package_key, dataset_id, point)
) WITHOUT ROWID;
-- Covering: with the primary key columns every index entry carries, a property search reads
-- nothing of the table itself.
CREATE INDEX dataset_points_value ON dataset_points (property, temperature_c, value, measurements, batches);
