-- Search: what the manifest says about a package's material that search filters on, kept out of
-- the packages row so that listing packages does not read it. Filled at publish time; rows of
-- packages published before this migration are filled here from the stored manifest.
CREATE TABLE package_materials (
    digest TEXT PRIMARY KEY NOT NULL REFERENCES packages (digest),
    -- ISO 3166-1 alpha-2 of the producer (manifest material.producer.country)
    producer_country TEXT NOT NULL,
    -- manifest material.composition as JSON: [{"element": "Nd", "mass_fraction": 0.23}, ...]
    composition TEXT NOT NULL
);
CREATE INDEX package_materials_country ON package_materials (producer_country);

INSERT INTO package_materials (digest, producer_country, composition)
SELECT digest,
       COALESCE(json_extract(manifest, '$.material.producer.country'), ''),
       COALESCE(json_extract(manifest, '$.material.composition'), '[]')
FROM package_documents;
