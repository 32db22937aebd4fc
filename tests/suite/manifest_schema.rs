#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The committed JSON Schema of `prequal.json` is generated from the Rust types and must match
//! them. Regenerate with `PREQUAL_UPDATE_SCHEMA=1 cargo test --test suite manifest_schema::`.

use std::path::Path;

use prequal::package::Manifest;

const SCHEMA_PATH: &str = "openapi/prequal-manifest.schema.json";

#[test]
fn committed_manifest_schema_matches_the_types() {
    let schema = schemars::schema_for!(Manifest);
    let mut generated = serde_json::to_string_pretty(&schema).unwrap();
    generated.push('\n');
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_PATH);
    if std::env::var_os("PREQUAL_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SCHEMA_PATH} is out of date; run PREQUAL_UPDATE_SCHEMA=1 cargo test --test suite manifest_schema::"
    );
}

#[test]
fn every_sample_manifest_is_valid_against_the_types() {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-packages/sources");
    let mut count = 0;
    for entry in std::fs::read_dir(sources).unwrap() {
        let path = entry.unwrap().path().join("prequal.json");
        let bytes = std::fs::read(&path).unwrap();
        let manifest = Manifest::from_json("prequal.json", &bytes).unwrap();
        assert!(manifest.synthetic, "{} must be marked synthetic", path.display());
        manifest.check().unwrap();
        count += 1;
    }
    assert!(count >= 6);
}
